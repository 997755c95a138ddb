package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cordon-dev/cordon/internal/adminclient"
	"github.com/cordon-dev/cordon/internal/audit"
	tnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// auditKeygen writes a new note signer key to a new file, mode 0600, and
// prints its verifier key: for cordon serve --audit-key (named for the
// log's origin) or for a witness (named for the witness).
func auditKeygen(ctx context.Context, client func() *adminclient.Client, origin, out string, stdout io.Writer) error {
	if origin == "" {
		served, err := fetchCheckpoints(ctx, client())
		if err != nil {
			return fmt.Errorf("no --origin given and the server's could not be read (give --origin NAME): %w", err)
		}
		origin = served.Origin
	}
	if origin == "" || strings.ContainsAny(origin, "+ \t\n") {
		return usageError("--origin %q: a key name is one word without spaces or '+'", origin)
	}
	skey, vkey, err := audit.NewCheckpointKey(origin)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return usageError("-o: %v (keygen never overwrites a key)", err)
	}
	if _, err := f.WriteString(skey + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote the secret key %s to %s\nverifier key: %s\n", origin, out, vkey)
	return nil
}

// witnessState is what a witness remembers: the last checkpoint it
// cosigned, so it never cosigns a log that forked or went back.
type witnessState struct {
	Origin     string `json:"origin"`
	Size       uint64 `json:"size"`
	Root       string `json:"root"`
	Checkpoint string `json:"checkpoint"`
}

// auditWitness is one round of a witness: it reads the log's newest
// checkpoint, checks it with the log's key, checks the log only grew since
// the checkpoint it cosigned last (a consistency proof), and cosigns it
// (C2SP tlog-cosignature, cosignature/v1). The cosigned checkpoint goes to
// the state file and, with -o, to a checkpoint file for verify --witness.
func auditWitness(ctx context.Context, c *adminclient.Client, logKey, keyFile, stateFile, out string, stdout io.Writer) error {
	lv, err := note.NewVerifier(logKey)
	if err != nil {
		return usageError("--log-key %q is not a note verifier key: %v", logKey, err)
	}
	skeyBytes, err := os.ReadFile(keyFile)
	if err != nil {
		return usageError("--key: %v", err)
	}
	cosigner, err := tnote.NewSignerForCosignatureV1(strings.TrimSpace(string(skeyBytes)))
	if err != nil {
		return usageError("--key: %s holds no witness key (make one with cordon audit keygen --origin WITNESS-NAME -o FILE): %v", keyFile, err)
	}
	var prev *witnessState
	if b, err := os.ReadFile(stateFile); err == nil {
		prev = new(witnessState)
		if err := json.Unmarshal(b, prev); err != nil {
			return fmt.Errorf("%s is not a witness state file: %w", stateFile, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	served, err := fetchCheckpoints(ctx, c)
	if err != nil {
		return err
	}
	if len(served.Checkpoints) == 0 {
		return &exitError{code: 1, err: errors.New("the log has no checkpoint yet: nothing to cosign")}
	}
	newest := served.Checkpoints[len(served.Checkpoints)-1]
	origin := lv.Name()
	size, root, err := audit.OpenCheckpoint([]byte(newest.Note), note.VerifierList(lv), origin)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("REFUSED: the log's newest checkpoint does not verify with --log-key: %w", err)}
	}
	if prev != nil {
		if prev.Origin != origin {
			return usageError("%s is the state of a witness of %q, not of %q", stateFile, prev.Origin, origin)
		}
		prevRoot, err := base64.StdEncoding.DecodeString(prev.Root)
		if err != nil {
			return fmt.Errorf("%s: malformed root: %w", stateFile, err)
		}
		switch {
		case size < prev.Size:
			return &exitError{code: 1, err: fmt.Errorf("REFUSED: the log went back from %d entries (cosigned) to %d", prev.Size, size)}
		case size == prev.Size && base64.StdEncoding.EncodeToString(root) != prev.Root:
			return &exitError{code: 1, err: fmt.Errorf("REFUSED: the log forked: two roots at size %d", size)}
		case size > prev.Size:
			var p struct {
				Hashes []string `json:"hashes"`
			}
			path := "/audit/v1/proof/consistency?from=" + strconv.FormatUint(prev.Size, 10) + "&to=" + strconv.FormatUint(size, 10)
			if err := c.Do(ctx, "GET", path, nil, &p); err != nil {
				if ae, ok := errors.AsType[*adminclient.APIError](err); ok && ae.Status == http.StatusNotFound {
					// A log never drops a checkpoint it signed.
					return &exitError{code: 1, err: fmt.Errorf("REFUSED: the log no longer has the checkpoint it signed at size %d, which this witness cosigned: it was rewritten", prev.Size)}
				}
				return err
			}
			hashes := make([][]byte, len(p.Hashes))
			for i, h := range p.Hashes {
				if hashes[i], err = base64.StdEncoding.DecodeString(h); err != nil {
					return &exitError{code: 1, err: fmt.Errorf("REFUSED: the consistency proof holds a malformed hash")}
				}
			}
			if err := audit.VerifyConsistency(prev.Size, size, hashes, prevRoot, root); err != nil {
				return &exitError{code: 1, err: fmt.Errorf("REFUSED: the log at %d entries does not extend the one cosigned at %d: %w", size, prev.Size, err)}
			}
		}
	}
	n, err := note.Open([]byte(newest.Note), note.VerifierList(lv))
	if err != nil {
		return err
	}
	// Keep every signature already there (the log's, other witnesses').
	n.Sigs = append(n.Sigs, n.UnverifiedSigs...)
	n.UnverifiedSigs = nil
	cosigned, err := note.Sign(n, cosigner)
	if err != nil {
		return fmt.Errorf("cosigning: %w", err)
	}
	st := witnessState{Origin: origin, Size: size, Root: base64.StdEncoding.EncodeToString(root), Checkpoint: string(cosigned)}
	if err := writeJSONFile(stateFile, st, 0o600); err != nil {
		return err
	}
	if out != "" {
		f := checkpointFile{Origin: origin, VerifierKey: logKey, LogSize: size,
			Checkpoints: []checkpointView{{Size: size, Note: string(cosigned)}}}
		if err := writeJSONFile(out, f, 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "cosigned %s at %d entries as %s\n", origin, size, cosigner.Name())
	return nil
}

// checkWitnesses wants, for each witness key, a checkpoint in the held
// file that carries its valid cosignature; the held checkpoints are then
// checked against the log like any other. It returns a line per witness.
func checkWitnesses(keys []string, held *checkpointFile, heldFile string) ([]string, error) {
	var lines []string
	for _, key := range keys {
		v, err := tnote.NewVerifierForCosignatureV1(key)
		if err != nil {
			return nil, usageError("--witness %q is not a witness verifier key: %v", key, err)
		}
		var best uint64
		found := false
		for _, cp := range held.Checkpoints {
			if _, err := note.Open([]byte(cp.Note), note.VerifierList(v)); err == nil && (!found || cp.Size > best) {
				best, found = cp.Size, true
			}
		}
		if !found {
			return nil, &exitError{code: 1, err: fmt.Errorf("no checkpoint in %s is cosigned by the witness %s: run cordon audit witness, or give the file it wrote", heldFile, v.Name())}
		}
		lines = append(lines, fmt.Sprintf("witnessed by %s at %d entries", v.Name(), best))
	}
	return lines, nil
}

// writeJSONFile replaces path with v as indented JSON, through a temporary
// file in the same directory so a crash leaves the old or the new file.
func writeJSONFile(path string, v any, mode os.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
