package httpapi

import (
	"bytes"
	"fmt"
	"testing"
)

// ingestBody is n events as a JSON array or NDJSON, about 250 bytes each.
func ingestBody(n int, ndjson bool) []byte {
	var b bytes.Buffer
	if !ndjson {
		b.WriteByte('[')
	}
	for i := range n {
		if i > 0 && !ndjson {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"time":"2026-11-29T10:00:00Z","principal":"svc-support","action":"read","subject":"u-%08d","categories":["profile","email"],"purpose":"ticket T-%d","source":"10.0.0.%d"}`, i, i, i%250)
		if ndjson {
			b.WriteByte('\n')
		}
	}
	if !ndjson {
		b.WriteByte(']')
	}
	return b.Bytes()
}

// BenchmarkDecodeIngest measures the ingest decoders on a 1,000-event
// batch, the strictness checks included.
func BenchmarkDecodeIngest(b *testing.B) {
	for _, tc := range []struct {
		name   string
		ndjson bool
	}{{"array", false}, {"ndjson", true}} {
		body := ingestBody(1000, tc.ndjson)
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if tc.ndjson {
					_, err = decodeEventLines(bytes.NewReader(body))
				} else {
					_, err = decodeEventArray(bytes.NewReader(body))
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkCheckStrict is the strictness check's share of a decode: the
// duplicate-name and UTF-8 scan of a 1,000-event array.
func BenchmarkCheckStrict(b *testing.B) {
	body := ingestBody(1000, false)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if p := checkStrict(body); p != nil {
			b.Fatal(p.msg)
		}
	}
}
