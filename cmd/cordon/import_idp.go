package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/cordon-dev/cordon/internal/idpexport"
)

// idpFlags are user import's flags for the exports of identity providers
// (Keycloak, Firebase): how to pick usernames and the Firebase project's
// password hash parameters.
type idpFlags struct {
	usernameFrom *string
	fbParams     *string
	fbSignerKey  *string
	fbSeparator  *string
	fbRounds     *int
	fbMemCost    *int
}

func addIDPFlags(fs *flag.FlagSet) *idpFlags {
	return &idpFlags{
		usernameFrom: fs.String("username-from", "", "for a Keycloak or Firebase export: username, email or local_id (default: username for Keycloak, email for Firebase)"),
		fbParams:     fs.String("firebase-params", "", "FILE with the Firebase project's password hash parameters (the console's hash_config text, or JSON)"),
		fbSignerKey:  fs.String("firebase-signer-key", "", "the Firebase project's base64_signer_key (prefer --firebase-params: argv is visible to other users)"),
		fbSeparator:  fs.String("firebase-salt-separator", "", "the Firebase project's base64_salt_separator"),
		fbRounds:     fs.Int("firebase-rounds", 0, "the Firebase project's rounds"),
		fbMemCost:    fs.Int("firebase-mem-cost", 0, "the Firebase project's mem_cost"),
	}
}

// options checks the flags and reads the Firebase parameters, if given.
func (f *idpFlags) options() (idpexport.Options, error) {
	opt := idpexport.Options{UsernameFrom: *f.usernameFrom}
	switch opt.UsernameFrom {
	case "", "username", "email", "local_id":
	default:
		return opt, usageError("--username-from must be username, email or local_id")
	}
	byFlags := *f.fbSignerKey != "" || *f.fbSeparator != "" || *f.fbRounds != 0 || *f.fbMemCost != 0
	var cfg idpexport.FirebaseConfig
	switch {
	case *f.fbParams != "" && byFlags:
		return opt, usageError("give the Firebase parameters by --firebase-params or by the --firebase-* flags, not both")
	case *f.fbParams != "":
		b, err := os.ReadFile(*f.fbParams)
		if err != nil {
			return opt, err
		}
		if cfg, err = idpexport.ParseFirebaseConfig(b); err != nil {
			return opt, fmt.Errorf("%s: %w", *f.fbParams, err)
		}
	case byFlags:
		cfg = idpexport.FirebaseConfig{Base64SignerKey: *f.fbSignerKey, Base64SaltSeparator: *f.fbSeparator, Rounds: *f.fbRounds, MemCost: *f.fbMemCost}
	default:
		return opt, nil
	}
	p, err := cfg.Params()
	if err != nil {
		return opt, usageError("Firebase hash parameters: %v", err)
	}
	opt.Firebase = &p
	return opt, nil
}

// skippedRecord is a user of an export with no password to import: it is
// reported, not counted invalid.
type skippedRecord struct{ err error }

func (e *skippedRecord) Error() string { return e.err.Error() }

// jsonOrExport reads a .json file as a JSON array of records, or, when it
// holds an object, as a Keycloak or Firebase export.
func jsonOrExport(r io.Reader, opt idpexport.Options) (next func() (importRecord, int, error), export bool) {
	br := bufio.NewReader(r)
	for {
		b, err := br.Peek(1)
		if err != nil || (b[0] != ' ' && b[0] != '\t' && b[0] != '\r' && b[0] != '\n') {
			if err == nil && b[0] == '{' {
				return exportReader(br, opt), true
			}
			return jsonArrayReader(br), false
		}
		br.ReadByte()
	}
}

// exportReader yields the users of a Keycloak or Firebase export; the
// int is the user's position in the export, from 1.
func exportReader(r io.Reader, opt idpexport.Options) func() (importRecord, int, error) {
	er := idpexport.NewReader(r, opt)
	return func() (importRecord, int, error) {
		rec, err := er.Next()
		var p *idpexport.Problem
		switch {
		case errors.As(err, &p) && p.NoPassword:
			return importRecord{}, p.Index, &skippedRecord{err}
		case errors.As(err, &p):
			return importRecord{}, p.Index, err
		case errors.Is(err, io.EOF):
			return importRecord{}, 0, io.EOF
		case errors.Is(err, idpexport.ErrFirebaseParams):
			return importRecord{}, 0, &fatalReadError{err}
		case err != nil:
			return importRecord{}, 0, &fatalReadError{fmt.Errorf("want a JSON array of account records, or a Keycloak or Firebase export: %w", err)}
		}
		return importRecord{Username: rec.Username, PasswordHash: rec.PasswordHash, Email: rec.Email}, er.Index(), nil
	}
}
