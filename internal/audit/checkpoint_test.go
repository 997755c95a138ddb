package audit

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

const testOrigin = "cordon.example/audit"

type testKey struct {
	signer    note.Signer
	verifiers note.Verifiers
}

func newTestKey(t testing.TB, name string) testKey {
	t.Helper()
	skey, vkey, err := NewCheckpointKey(name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{s, note.VerifierList(v)}
}

func TestCheckpointRoundTrip(t *testing.T) {
	k := newTestKey(t, testOrigin)
	root := LeafHash([]byte("x"))
	data, err := SignCheckpoint(testOrigin, 42, root, k.signer)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), testOrigin+"\n42\n") {
		t.Errorf("checkpoint text:\n%s", data)
	}
	size, got, err := OpenCheckpoint(data, k.verifiers, testOrigin)
	if err != nil {
		t.Fatalf("OpenCheckpoint: %v", err)
	}
	if size != 42 || !bytes.Equal(got, root) {
		t.Errorf("OpenCheckpoint: got %d %x, want 42 %x", size, got, root)
	}
}

func TestCheckpointRejects(t *testing.T) {
	k := newTestKey(t, testOrigin)
	other := newTestKey(t, testOrigin)
	root := LeafHash([]byte("x"))
	data, err := SignCheckpoint(testOrigin, 42, root, k.signer)
	if err != nil {
		t.Fatal(err)
	}
	body := string(data)
	rootB64 := strings.Split(body, "\n")[2]
	signWith := func(text string) []byte {
		b, err := note.Sign(&note.Note{Text: text}, k.signer)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name      string
		data      []byte
		verifiers note.Verifiers
		origin    string
	}{
		{"wrong key", data, other.verifiers, testOrigin},
		{"wrong origin", data, k.verifiers, "other.example/audit"},
		{"edited size", []byte(strings.Replace(body, "\n42\n", "\n43\n", 1)), k.verifiers, testOrigin},
		{"edited root", []byte(strings.Replace(body, rootB64, "A"+rootB64[1:], 1)), k.verifiers, testOrigin},
		{"two lines", signWith(testOrigin + "\n42\n"), k.verifiers, testOrigin},
		{"leading zero size", signWith(testOrigin + "\n042\n" + rootB64 + "\n"), k.verifiers, testOrigin},
		{"negative size", signWith(testOrigin + "\n-1\n" + rootB64 + "\n"), k.verifiers, testOrigin},
		{"short root", signWith(testOrigin + "\n42\nAAAA\n"), k.verifiers, testOrigin},
		{"empty extension", signWith(testOrigin + "\n42\n" + rootB64 + "\n\n"), k.verifiers, testOrigin},
		{"size 0 wrong root", signWith(testOrigin + "\n0\n" + rootB64 + "\n"), k.verifiers, testOrigin},
		{"garbage", []byte("hello"), k.verifiers, testOrigin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := OpenCheckpoint(tt.data, tt.verifiers, tt.origin); err == nil {
				t.Error("OpenCheckpoint: got nil error")
			}
		})
	}
	if _, _, err := OpenCheckpoint(signWith(testOrigin+"\n42\n"+rootB64+"\next\n"), k.verifiers, testOrigin); err != nil {
		t.Errorf("extension line: %v", err)
	}
	if _, err := SignCheckpoint("a\nb", 1, root, k.signer); !errors.Is(err, ErrBadCheckpoint) {
		t.Errorf("SignCheckpoint with newline in origin: got %v", err)
	}
	if _, err := SignCheckpoint(testOrigin, 1, root[:5], k.signer); !errors.Is(err, ErrBadCheckpoint) {
		t.Errorf("SignCheckpoint with short root: got %v", err)
	}
}

func FuzzOpenCheckpoint(f *testing.F) {
	k := newTestKey(f, testOrigin)
	good, err := SignCheckpoint(testOrigin, 7, LeafHash(nil), k.signer)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(testOrigin + "\n7\n\n— x y\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		size, root, err := OpenCheckpoint(data, k.verifiers, testOrigin)
		if err != nil {
			return
		}
		if len(root) != HashSize {
			t.Fatalf("accepted root of %d bytes", len(root))
		}
		// Anything accepted must re-sign to the same commitment.
		again, err := SignCheckpoint(testOrigin, size, root, k.signer)
		if err != nil {
			t.Fatal(err)
		}
		s2, r2, err := OpenCheckpoint(again, k.verifiers, testOrigin)
		if err != nil || s2 != size || !bytes.Equal(r2, root) {
			t.Fatalf("re-signed checkpoint: %d %x %v", s2, r2, err)
		}
	})
}

func TestVerifierKeyOf(t *testing.T) {
	skey, vkey, err := NewCheckpointKey("cordon.example/audit")
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifierKeyOf(skey)
	if err != nil || got != vkey {
		t.Fatalf("VerifierKeyOf: got %q, %v; want %q", got, err, vkey)
	}
	for _, bad := range []string{"", vkey, "PRIVATE+KEY+a+b", "PRIVATE+KEY+name+00000000+AAAA", skey[:len(skey)-4]} {
		if _, err := VerifierKeyOf(bad); !errors.Is(err, ErrBadCheckpoint) {
			t.Errorf("VerifierKeyOf(%q): got %v, want ErrBadCheckpoint", bad, err)
		}
	}
}
