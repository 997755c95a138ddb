package throttle

import "time"

// table is a map of entries with a bound on its size, whose entries expire
// a fixed time after their stamp. Entries are kept in a ring ordered by
// stamp, oldest first: because every entry of a table lives equally long,
// the oldest is also the first to expire, so both dropping expired entries
// and evicting the oldest when full are O(1) at the front of the ring.
type table[K comparable] struct {
	ttl   int64 // nanoseconds
	max   int
	items map[K]*entry[K]
	root  entry[K] // sentinel: root.next is the oldest entry, root.prev the newest
}

// entry is one key's state. stamp is the time it was last touched (a
// failure for address and account entries, a success for known pairs).
type entry[K comparable] struct {
	key        K
	stamp      int64 // unix nanoseconds
	c          counter
	prev, next *entry[K]
}

func newTable[K comparable](ttl time.Duration, maxEntries int) *table[K] {
	t := &table[K]{ttl: int64(ttl), max: maxEntries, items: make(map[K]*entry[K])}
	t.root.prev, t.root.next = &t.root, &t.root
	return t
}

func (t *table[K]) expired(e *entry[K], now int64) bool { return now-e.stamp >= t.ttl }

// get returns the live entry of k, or nil. An expired entry found on the
// way is dropped, so a lookup never sees stale state.
func (t *table[K]) get(k K, now int64) *entry[K] {
	e, ok := t.items[k]
	if !ok {
		return nil
	}
	if t.expired(e, now) {
		t.remove(e)
		return nil
	}
	return e
}

// touch returns the live entry of k, created zero if there is none,
// stamped now and moved to the newest end. Creating an entry first drops
// the expired entries at the front, then the oldest one if the table is
// still full; each entry is dropped once, so this is O(1) amortised.
func (t *table[K]) touch(k K, now int64) *entry[K] {
	e := t.get(k, now)
	if e == nil {
		for old := t.root.next; old != &t.root && t.expired(old, now); old = t.root.next {
			t.remove(old)
		}
		if len(t.items) >= t.max {
			t.remove(t.root.next)
		}
		e = &entry[K]{key: k}
		t.items[k] = e
	} else {
		e.prev.next, e.next.prev = e.next, e.prev
	}
	// A wall clock stepped backwards must not break the ring's order.
	e.stamp = max(now, t.root.prev.stamp)
	e.prev, e.next = t.root.prev, &t.root
	t.root.prev.next = e
	t.root.prev = e
	return e
}

func (t *table[K]) remove(e *entry[K]) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	delete(t.items, e.key)
}

func (t *table[K]) len() int { return len(t.items) }
