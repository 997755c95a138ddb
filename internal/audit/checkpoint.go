package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// ErrBadCheckpoint is wrapped by every OpenCheckpoint refusal other than a
// signature failure from the note package, which is wrapped as is.
var ErrBadCheckpoint = errors.New("audit: bad checkpoint")

// Checkpoint is a signed checkpoint as stored or served, with the origin the
// verifier expects it to carry. Origin must come from the verifier's own
// configuration, never from the party whose log is being checked.
type Checkpoint struct {
	Origin string
	Note   []byte
}

// NewCheckpointKey generates an Ed25519 note key pair named name (by
// convention the log's origin). skey is secret; vkey is published to
// verifiers.
func NewCheckpointKey(name string) (skey, vkey string, err error) {
	skey, vkey, err = note.GenerateKey(rand.Reader, name)
	if err != nil {
		return "", "", fmt.Errorf("audit: generating checkpoint key: %w", err)
	}
	return skey, vkey, nil
}

// VerifierKeyOf returns the verifier key of the note signer key skey, so a
// key kept in a file needs no second line that could disagree with it.
func VerifierKeyOf(skey string) (string, error) {
	// PRIVATE+KEY+<name>+<hash>+<base64 of 0x01 and the Ed25519 seed>.
	rest, ok := strings.CutPrefix(skey, "PRIVATE+KEY+")
	parts := strings.SplitN(rest, "+", 3)
	if !ok || len(parts) != 3 {
		return "", fmt.Errorf("%w: not a note signer key (PRIVATE+KEY+name+hash+key)", ErrBadCheckpoint)
	}
	if _, err := note.NewSigner(skey); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return "", fmt.Errorf("%w: not an Ed25519 note signer key", ErrBadCheckpoint)
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(parts[0], pub)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadCheckpoint, err)
	}
	return vkey, nil
}

// SignCheckpoint returns a C2SP checkpoint — origin line, tree size, base64
// root hash — signed as a note by signer.
func SignCheckpoint(origin string, size uint64, root []byte, signer note.Signer) ([]byte, error) {
	if origin == "" || strings.ContainsAny(origin, "\n") || !utf8Printable(origin) {
		return nil, fmt.Errorf("%w: origin must be one non-empty printable line", ErrBadCheckpoint)
	}
	if len(root) != HashSize {
		return nil, fmt.Errorf("%w: root of %d bytes", ErrBadCheckpoint, len(root))
	}
	text := origin + "\n" + strconv.FormatUint(size, 10) + "\n" + base64.StdEncoding.EncodeToString(root) + "\n"
	msg, err := note.Sign(&note.Note{Text: text}, signer)
	if err != nil {
		return nil, fmt.Errorf("audit: signing checkpoint: %w", err)
	}
	return msg, nil
}

// OpenCheckpoint checks a checkpoint's signature against verifiers, that it
// is for origin, and returns the size and root it commits to. Extension lines
// after the root are allowed, as C2SP permits, and ignored.
func OpenCheckpoint(data []byte, verifiers note.Verifiers, origin string) (size uint64, root []byte, err error) {
	n, err := note.Open(data, verifiers)
	if err != nil {
		return 0, nil, fmt.Errorf("audit: opening checkpoint: %w", err)
	}
	// Text ends with "\n" (note.Open guarantees it); drop the final empty field.
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) < 3 {
		return 0, nil, fmt.Errorf("%w: %d lines, want at least 3", ErrBadCheckpoint, len(lines))
	}
	if lines[0] != origin {
		return 0, nil, fmt.Errorf("%w: origin %q, want %q", ErrBadCheckpoint, truncate(lines[0]), origin)
	}
	size, err = strconv.ParseUint(lines[1], 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != lines[1] {
		return 0, nil, fmt.Errorf("%w: malformed tree size", ErrBadCheckpoint)
	}
	root, err = base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != HashSize || base64.StdEncoding.EncodeToString(root) != lines[2] {
		return 0, nil, fmt.Errorf("%w: malformed root hash", ErrBadCheckpoint)
	}
	for _, l := range lines[3:] {
		if l == "" {
			return 0, nil, fmt.Errorf("%w: empty extension line", ErrBadCheckpoint)
		}
	}
	if size == 0 && !bytes.Equal(root, EmptyRoot()) {
		return 0, nil, fmt.Errorf("%w: empty tree with a non-empty root", ErrBadCheckpoint)
	}
	return size, root, nil
}

func utf8Printable(s string) bool {
	return checkText("origin", s, len(s)) == nil
}
