package throttle

import "time"

// table maps keys to values with a bound on its size; an entry expires a
// fixed time after its stamp. Entries are kept in a ring ordered by stamp,
// oldest first: because every entry of a table lives equally long, the
// oldest is also the first to expire, so both dropping expired entries and
// evicting the oldest when full are O(1) at the front of the ring.
type table[K comparable, V any] struct {
	ttl   int64 // nanoseconds
	max   int
	items map[K]*entry[K, V]
	root  entry[K, V] // sentinel: root.next is the oldest entry, root.prev the newest
}

// entry is one key's state. stamp is when it was last touched: the last
// failure of an address or account, the last success of an account's
// known pairs.
type entry[K comparable, V any] struct {
	key        K
	stamp      int64 // unix nanoseconds
	v          V
	prev, next *entry[K, V]
}

func newTable[K comparable, V any](ttl time.Duration, maxEntries int) *table[K, V] {
	t := &table[K, V]{ttl: int64(ttl), max: maxEntries, items: make(map[K]*entry[K, V])}
	t.root.prev, t.root.next = &t.root, &t.root
	return t
}

func (t *table[K, V]) expired(e *entry[K, V], now int64) bool { return now-e.stamp >= t.ttl }

// get returns the value of k, or nil if there is none or it expired. An
// expired entry found on the way is dropped.
func (t *table[K, V]) get(k K, now int64) *V {
	e := t.live(k, now)
	if e == nil {
		return nil
	}
	return &e.v
}

func (t *table[K, V]) live(k K, now int64) *entry[K, V] {
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

// touch returns the value of k, created zero if there is none, and stamps
// its entry now, moving it to the newest end. Creating an entry first drops
// the expired entries at the front, then the oldest one if the table is
// still full; each entry is dropped once, so this is O(1) amortised.
func (t *table[K, V]) touch(k K, now int64) *V {
	e := t.live(k, now)
	if e == nil {
		for old := t.root.next; old != &t.root && t.expired(old, now); old = t.root.next {
			t.remove(old)
		}
		if len(t.items) >= t.max {
			t.remove(t.root.next)
		}
		e = &entry[K, V]{key: k}
		t.items[k] = e
	} else {
		e.prev.next, e.next.prev = e.next, e.prev
	}
	// A wall clock stepped backwards must not break the ring's order.
	e.stamp = max(now, t.root.prev.stamp)
	e.prev, e.next = t.root.prev, &t.root
	t.root.prev.next = e
	t.root.prev = e
	return &e.v
}

func (t *table[K, V]) delete(k K) {
	if e, ok := t.items[k]; ok {
		t.remove(e)
	}
}

func (t *table[K, V]) remove(e *entry[K, V]) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	delete(t.items, e.key)
}

func (t *table[K, V]) len() int { return len(t.items) }
