package password

import (
	"errors"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/internal/cordon"
)

func TestPolicyCheck(t *testing.T) {
	tests := []struct {
		name     string
		policy   Policy
		password string
		username string
		want     string // error message; empty for acceptable
	}{
		{"7 chars", DefaultPolicy(), "zq7#kLm", "alice", "password must be at least 8 characters"},
		{"8 chars", DefaultPolicy(), "zq7#kLmP", "alice", ""},
		{"empty", DefaultPolicy(), "", "alice", "password must be at least 8 characters"},
		{"emoji counted as one", DefaultPolicy(), "zq7#kLm🦊", "alice", ""},
		{"7 emoji", DefaultPolicy(), "🦊🦊🦊🦊🦊🦊🦊", "alice", "password must be at least 8 characters"},
		// e + combining acute is one code point after NFKC.
		{"decomposed counted composed", DefaultPolicy(), "zq7#kLe\u0301", "alice", "password must be at least 8 characters"},
		// ﬃ is three code points after NFKC.
		{"ligature counted expanded", DefaultPolicy(), "zq7#kﬃ", "alice", ""},
		{"spaces allowed", DefaultPolicy(), "correct horse battery staple", "alice", ""},
		{"no composition rules", DefaultPolicy(), "zqxvkwjmtrbplhgd", "alice", ""},
		{"256 chars", DefaultPolicy(), strings.Repeat("zq7#", 64), "alice", ""},
		{"300 chars", DefaultPolicy(), strings.Repeat("z", 300), "alice", "password must be at most 256 characters"},
		{"common", DefaultPolicy(), "password123", "alice", "password is too common: it appears in lists of breached passwords"},
		{"common any case", DefaultPolicy(), "PassWord123", "alice", "password is too common: it appears in lists of breached passwords"},
		{"common fullwidth", DefaultPolicy(), "ｐａｓｓｗｏｒｄ１２３", "alice", "password is too common: it appears in lists of breached passwords"},
		{"username", DefaultPolicy(), "alice.smith", "alice.smith", "password must not be the same as the username"},
		{"username any case", DefaultPolicy(), "Alice.Smith", "alice.smith", "password must not be the same as the username"},
		{"username contained is fine", DefaultPolicy(), "alice.smith-zq7", "alice.smith", ""},
		{"invalid UTF-8", DefaultPolicy(), "zq7#kLmP\xff", "alice", "password must be valid UTF-8 text"},
		{"5000 bytes", DefaultPolicy(), strings.Repeat("z", 5000), "alice", "password is too long: it must be at most 4096 bytes"},
		{"min 15: 14 chars", Policy{MinLength: 15}, "zq7#kLmPzq7#kL", "alice", "password must be at least 15 characters"},
		{"min 15: 15 chars", Policy{MinLength: 15}, "zq7#kLmPzq7#kLm", "alice", ""},
		{"zero policy is default", Policy{}, "zq7#kLm", "alice", "password must be at least 8 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Check(tt.password, tt.username)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			var ce *cordon.Error
			if !errors.As(err, &ce) {
				t.Fatalf("Check = %v, want *cordon.Error", err)
			}
			if ce.Code != cordon.ECodeWeakPassword || ce.Field != "password" || ce.Message != tt.want {
				t.Errorf("Check = {Code %q, Field %q, Message %q}; want {%q, %q, %q}",
					ce.Code, ce.Field, ce.Message, cordon.ECodeWeakPassword, "password", tt.want)
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name    string
		policy  Policy
		wantErr bool
	}{
		{"default", DefaultPolicy(), false},
		{"zero", Policy{}, false},
		{"min 15", Policy{MinLength: 15, MaxLength: 64}, false},
		{"min 7", Policy{MinLength: 7}, true},
		{"max 63", Policy{MaxLength: 63}, true},
		{"max 1024", Policy{MaxLength: 1024}, false},
		{"max 1025", Policy{MaxLength: 1025}, true},
		{"min above max", Policy{MinLength: 100, MaxLength: 64}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.policy.Validate(); (err != nil) != tt.wantErr {
				t.Errorf("Validate() = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func TestCommonPasswordsLoaded(t *testing.T) {
	if n := len(commonPasswords()); n < 20000 {
		t.Errorf("common-password set has %d entries, want about 30,000", n)
	}
}
