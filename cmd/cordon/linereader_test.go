package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// lineReader splits a stream into the lines bufio.Scanner's ScanLines
// gives, however the reader cuts it, and the lines it handed out keep
// their bytes while it reads on.
func TestLineReader(t *testing.T) {
	long := strings.Repeat("x", exportBlock-3) // its newline falls past a block's end
	cases := []struct {
		name, in string
	}{
		{"empty", ""},
		{"one line", "a\n"},
		{"no final newline", "a\nb"},
		{"carriage returns", "a\r\nb\r\n\r\nc\r"},
		{"empty lines", "\n\n\na\n\n"},
		{"lines across blocks", "head\n" + long + "\n" + long + "\nend"},
	}
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"whole", func(r io.Reader) io.Reader { return r }},
		{"one byte", iotest.OneByteReader},
		{"half", iotest.HalfReader},
		{"data and EOF together", iotest.DataErrReader},
	}
	for _, c := range cases {
		var want []string
		sc := bufio.NewScanner(strings.NewReader(c.in))
		sc.Buffer(nil, 4*exportBlock)
		for sc.Scan() {
			want = append(want, sc.Text())
		}
		for _, rd := range readers {
			if rd.name == "one byte" && len(c.in) > 1000 {
				continue // millions of calls
			}
			t.Run(c.name+"/"+rd.name, func(t *testing.T) {
				l := &lineReader{r: rd.wrap(strings.NewReader(c.in))}
				var got [][]byte
				for {
					line, err := l.next()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Fatalf("next: %v", err)
					}
					got = append(got, line)
				}
				if len(got) != len(want) {
					t.Fatalf("got %d lines, want %d", len(got), len(want))
				}
				for i := range want {
					if string(got[i]) != want[i] {
						t.Errorf("line %d: got %.40q (%d bytes), want %.40q (%d bytes)", i, got[i], len(got[i]), want[i], len(want[i]))
					}
				}
			})
		}
	}
}

// A line longer than maxExportLine is refused, as the scanner refused
// it; a read error is returned, not taken for the end of the stream.
func TestLineReaderErrors(t *testing.T) {
	l := &lineReader{r: strings.NewReader("ok\n" + strings.Repeat("x", maxExportLine+1) + "\n")}
	if line, err := l.next(); err != nil || string(line) != "ok" {
		t.Fatalf("first line: %q, %v; want \"ok\"", line, err)
	}
	if _, err := l.next(); !errors.Is(err, bufio.ErrTooLong) {
		t.Errorf("an overlong line: got %v, want bufio.ErrTooLong", err)
	}
	cut := errors.New("connection reset")
	l = &lineReader{r: io.MultiReader(strings.NewReader("a\npartial"), iotest.ErrReader(cut))}
	if line, err := l.next(); err != nil || !bytes.Equal(line, []byte("a")) {
		t.Fatalf("first line: %q, %v; want \"a\"", line, err)
	}
	if line, err := l.next(); !errors.Is(err, cut) {
		t.Errorf("a stream cut mid-line: got %q, %v; want the read error", line, err)
	}
}
