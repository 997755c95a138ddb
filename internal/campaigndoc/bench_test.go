package campaigndoc

import (
	"strings"
	"testing"
)

func BenchmarkParse(b *testing.B) {
	benchmarks := []struct {
		name, format, doc string
	}{
		{"spec/json", JSON, specUpgrade},
		{"spec/yaml", YAML, specYAML},
		// The worst an admin can post: 1 MiB of one-letter users.
		{"1MiB/json", JSON, `{"kind":"reauth","name":"r","cohort":{"users":[` + strings.Repeat(`"a",`, (MaxSize-100)/4) + `"a"]}}`},
		{"1MiB/yaml", YAML, "kind: reauth\nname: r\ncohort:\n  users: [" + strings.Repeat("a,", (MaxSize-100)/2) + "a]\n"},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			data := []byte(bm.doc)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				Parse(data, bm.format)
			}
		})
	}
}
