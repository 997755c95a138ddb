package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMutationsApply: every mutation's piece of source is in its file
// exactly once, so a refactor that moves a rule fails here, in CI, and
// not only in the (slow, manual) mutation run.
func TestMutationsApply(t *testing.T) {
	names := map[string]bool{}
	for _, m := range mutations {
		if names[m.Name] {
			t.Errorf("two mutations named %q", m.Name)
		}
		names[m.Name] = true
		b, err := os.ReadFile(filepath.Join("..", "..", m.File))
		if err != nil {
			t.Errorf("%s: %v", m.Name, err)
			continue
		}
		if n := strings.Count(string(b), m.From); n != 1 {
			t.Errorf("%s: its source occurs %d times in %s, want once: update the mutation with the rule", m.Name, n, m.File)
		}
		if m.From == m.To || len(m.Pkgs) == 0 {
			t.Errorf("%s: changes nothing or names no tests", m.Name)
		}
	}
}
