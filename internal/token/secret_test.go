package token_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/internal/token"
)

func TestNewSecret(t *testing.T) {
	for _, prefix := range []string{token.PrefixRefreshToken, token.PrefixAdminToken, ""} {
		t.Run("prefix "+prefix, func(t *testing.T) {
			plain, hash := token.NewSecret(prefix)
			body, ok := strings.CutPrefix(plain, prefix)
			if !ok {
				t.Fatalf("secret %q lacks prefix %q", plain, prefix)
			}
			raw, err := base64.RawURLEncoding.DecodeString(body)
			if err != nil || len(raw) != 32 {
				t.Errorf("secret body %q: %d bytes, err %v; want 32 bytes of base64url", body, len(raw), err)
			}
			want := sha256.Sum256([]byte(plain))
			if !bytes.Equal(hash, want[:]) {
				t.Errorf("hash = %x, want SHA-256 of the plain secret %x", hash, want)
			}
			if !bytes.Equal(token.HashSecret(plain), hash) {
				t.Error("HashSecret(plain) differs from the hash NewSecret returned")
			}
			if other, _ := token.NewSecret(prefix); other == plain {
				t.Error("two secrets are equal")
			}
		})
	}
}

func TestSecretRedacted(t *testing.T) {
	const plain = "crt_do-not-print-me"
	s := token.Secret(plain)

	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("login", "refresh_token", s)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("login", "refresh_token", s)

	tests := []struct {
		name string
		got  string
	}{
		{"slog", buf.String()},
		{"%v", fmt.Sprintf("%v", s)},
		//lint:ignore S1025 the case is %s formatting itself
		{"%s", fmt.Sprintf("%s", s)},
		{"%#v", fmt.Sprintf("%#v", s)},
		{"%+v in a struct", fmt.Sprintf("%+v", struct{ Token token.Secret }{s})},
		{"in an error", fmt.Errorf("refresh %v failed", s).Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.got, plain) || !strings.Contains(tt.got, "[redacted]") {
				t.Errorf("output %q shows the secret or lacks [redacted]", tt.got)
			}
		})
	}
	if string(s) != plain {
		t.Errorf("string(s) = %q, want the plain secret", string(s))
	}
}
