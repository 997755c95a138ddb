package feed

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxLine bounds one line of the stream, and the data of one event. A
// snapshot travels as one data line, so this is also the largest snapshot a
// gate accepts; the bound keeps a broken or hostile server from making a
// gate buffer without limit.
const MaxLine = 8 << 20

// errEventTooLarge is returned when the data lines of one event add up to
// more than MaxLine.
var errEventTooLarge = errors.New("feed: event data exceeds the size limit")

// sseEvent is one dispatched server-sent event. Data is only valid until
// the next call to next.
type sseEvent struct {
	ID   string // the last event ID after this event
	Type string // "message" when the event named none
	Data []byte
}

// sseParser reads a text/event-stream as the WHATWG HTML standard
// (§9.2.6, "Interpreting an event stream") says a browser does: lines end
// in CRLF, LF or a lone CR; a line starting with ':' is a comment; a blank
// line dispatches the event; an event without data is not dispatched; the
// id persists from one event to the next; an incomplete event at the end of
// the stream is dropped. The retry field is ignored: Client keeps its own
// backoff.
type sseParser struct {
	sc *bufio.Scanner
	// onComment, when set, is called for each comment line (the server's
	// pings), so liveness can be tracked without events.
	onComment func(text []byte)

	first   bool // no line read yet: a leading BOM is dropped
	skipLF  bool // the last line ended in CR: an LF right after it belongs to it
	lastID  string
	idBuf   string
	typeBuf []byte
	data    []byte // each data line followed by LF
}

func newSSEParser(r io.Reader) *sseParser {
	p := &sseParser{sc: bufio.NewScanner(r), first: true}
	// Room for a MaxLine line and the first byte of its line end (splitLine
	// needs no more); the buffer grows only when a line needs it.
	p.sc.Buffer(make([]byte, 0, 64<<10), MaxLine+1)
	p.sc.Split(p.splitLine)
	return p
}

// splitLine is a bufio.SplitFunc for the three line endings. A lone CR ends
// a line at once rather than waiting to see whether an LF follows, which
// could hold an event back until the next byte arrives; skipLF then
// swallows the LF of a CRLF split across reads.
func (p *sseParser) splitLine(data []byte, atEOF bool) (int, []byte, error) {
	if p.skipLF && len(data) > 0 {
		p.skipLF = false
		if data[0] == '\n' {
			return 1, nil, nil
		}
	}
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		if data[i] == '\n' {
			return i + 1, data[:i], nil
		}
		if i+1 < len(data) {
			if data[i+1] == '\n' {
				return i + 2, data[:i], nil
			}
			return i + 1, data[:i], nil
		}
		p.skipLF = true
		return i + 1, data[:i], nil
	}
	// An unterminated last line is dropped: it cannot complete an event.
	return 0, nil, nil
}

// next returns the next dispatched event, or the error that ended the
// stream (io.EOF when it ended cleanly).
func (p *sseParser) next() (sseEvent, error) {
	for p.sc.Scan() {
		line := p.sc.Bytes()
		if p.first {
			p.first = false
			line = bytes.TrimPrefix(line, []byte("\uFEFF"))
		}
		if len(line) == 0 {
			if e, ok := p.dispatch(); ok {
				return e, nil
			}
			continue
		}
		if line[0] == ':' {
			if p.onComment != nil {
				p.onComment(line[1:])
			}
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		if err := p.field(field, value); err != nil {
			return sseEvent{}, err
		}
	}
	if err := p.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return sseEvent{}, fmt.Errorf("feed: line longer than %d bytes", MaxLine)
		}
		return sseEvent{}, err
	}
	return sseEvent{}, io.EOF
}

func (p *sseParser) field(name, value []byte) error {
	switch string(name) {
	case "event":
		p.typeBuf = append(p.typeBuf[:0], value...)
	case "data":
		if len(p.data)+len(value)+1 > MaxLine+1 {
			return errEventTooLarge
		}
		p.data = append(p.data, value...)
		p.data = append(p.data, '\n')
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			p.idBuf = string(value)
		}
	}
	return nil
}

// dispatch ends the event being read; ok is false when it had no data.
func (p *sseParser) dispatch() (sseEvent, bool) {
	p.lastID = p.idBuf
	data, typ := p.data, p.typeBuf
	p.data, p.typeBuf = p.data[:0], p.typeBuf[:0]
	if len(data) == 0 {
		return sseEvent{}, false
	}
	e := sseEvent{ID: p.lastID, Type: "message", Data: data[:len(data)-1]}
	if len(typ) > 0 {
		e.Type = string(typ)
	}
	return e, true
}
