package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRenderProgress(t *testing.T) {
	tests := []struct {
		name, json string
		want       []string
	}{
		{"a draft", `{"state":"draft","complete":0}`, []string{"a draft targets nobody yet (0 % complete)"}},
		{"16 % admitted", `{"state":"active","admitted_share":0.16,"targeted":{"sessions":100,"users":100,"exact":true},
			"admitted":{"sessions":16,"users":16},"seen":{"sessions":15,"users":15},"blocked":{"sessions":15,"users":15},
			"dormant":{"sessions":1,"users":1},"satisfied":14,"satisfied_of_admitted":0.875,"satisfied_of_cohort":0.14,"complete":0.14,
			"breakdown":[{"platform":"ios","version":"8.4.0","source":"appstore","targeted":{"sessions":60,"users":60},"admitted":{"users":9},"seen":{"users":15},"satisfied":14},
			{"targeted":{},"seen":{"users":1}}]}`, []string{
			"targeted  100 user(s), 100 session(s)\n",
			"admitted  16% by the ramp: ~16 user(s), 16 session(s)",
			"seen      15 user(s), 15 session(s) (15 blocked, 0 prompted)",
			"dormant   1 user(s), 1 session(s) admitted and not seen yet",
			"satisfied 14 user(s): 88% of those admitted",
			"████░░░░░░░░░░░░░░░░░░░░░░░░░░ 14% of the cohort complete",
			"ios    8.4.0  appstore        60         9    15         14        0",
			"-        -         -         0         0     1          0        0",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p progressOut
			if err := json.Unmarshal([]byte(tt.json), &p); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			renderProgress(&b, &p)
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
}
