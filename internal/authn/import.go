package authn

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/password"
	"golang.org/x/text/unicode/norm"
)

// ImportRecord is one account to import from a previous system: a
// username and either a plain password (hashed here, slowly) or an
// existing hash (any of password.Families), which is kept as it is and
// upgraded to argon2id at the user's next successful login.
type ImportRecord struct {
	Username     string `json:"username"`
	Password     string `json:"password,omitempty"`
	PasswordHash string `json:"password_hash,omitempty"`
	// Email is the account's address, optional; an account whose address
	// another account has is skipped (counted as existing).
	Email string `json:"email,omitempty"`
}

// ImportProblem names a record that was not imported and why.
type ImportProblem struct {
	// Index is the record's position in the batch, from 0.
	Index    int    `json:"index"`
	Username string `json:"username,omitempty"`
	Error    string `json:"error"`
}

// ImportResult counts what an import did.
type ImportResult struct {
	Created  int             `json:"created"`
	Existing int             `json:"existing"`
	Invalid  int             `json:"invalid"`
	Problems []ImportProblem `json:"problems,omitempty"`
}

// MaxImportBatch bounds one call of Import, so one transaction stays short.
const MaxImportBatch = 10000

// Import creates the valid records of one batch in one transaction.
// Invalid records are reported, not stored; usernames that exist already
// are counted and left untouched.
func (s *Service) Import(ctx context.Context, recs []ImportRecord) (ImportResult, error) {
	var res ImportResult
	if len(recs) > MaxImportBatch {
		return res, cordon.Errorf(cordon.ECodeTooLarge, "at most %d accounts per import batch", MaxImportBatch)
	}
	now := s.clock.Now()
	accts := make([]*cordon.Account, 0, len(recs))
	seen := make(map[string]bool, len(recs))
	seenEmail := make(map[string]bool, len(recs))
	for i, r := range recs {
		problem := func(err error) {
			msg := err.Error()
			var e *cordon.Error
			if errors.As(err, &e) {
				msg = e.Message
			}
			res.Invalid++
			res.Problems = append(res.Problems, ImportProblem{Index: i, Username: r.Username, Error: msg})
		}
		if err := CheckUsername(r.Username); err != nil {
			problem(err)
			continue
		}
		key := skeletonKey(r.Username)
		if seen[key] {
			problem(fmt.Errorf("username %q appears twice in this batch, or looks like another of it", r.Username))
			continue
		}
		seen[key] = true
		email, err := cordon.NormalizeEmail(r.Email)
		if err != nil {
			problem(err)
			continue
		}
		if email != "" && seenEmail[email] {
			problem(fmt.Errorf("email %q appears twice in this batch; an address belongs to one account", email))
			continue
		}
		seenEmail[email] = true
		if err := s.checkConfusable(ctx, r.Username); err != nil {
			var ce *cordon.Error
			if !errors.As(err, &ce) {
				return res, err
			}
			problem(err)
			continue
		}
		var hash string
		switch {
		case (r.Password == "") == (r.PasswordHash == ""):
			problem(fmt.Errorf("give exactly one of password and password_hash"))
			continue
		case r.PasswordHash != "":
			if err := checkImportedHash(r.PasswordHash); err != nil {
				problem(err)
				continue
			}
			hash = r.PasswordHash
		default:
			if err := s.policy.Check(r.Password, r.Username); err != nil {
				problem(err)
				continue
			}
			h, err := s.hasher.Hash(ctx, r.Password)
			if err != nil {
				return res, err
			}
			hash = h
		}
		accts = append(accts, &cordon.Account{ID: cordon.NewID("u"), Username: norm.NFC.String(r.Username), PasswordHash: hash, PasswordChangedAt: now, CreatedAt: now, Email: email})
	}
	n, err := s.store.ImportAccounts(ctx, accts)
	if err != nil {
		return res, err
	}
	res.Created = n
	res.Existing = len(accts) - n
	// Which of the batch were created is not known, only how many: count
	// the first n. The counts only weight the dummy hash's pick.
	for _, a := range accts[:min(n, len(accts))] {
		s.hasher.AddScheme(a.PasswordHash, 1)
	}
	return res, nil
}

// checkImportedHash accepts what the verifier can check: a hash of one of
// password.Families within its bounds.
func checkImportedHash(h string) error {
	if !password.KnownFamily(h) {
		return fmt.Errorf("password_hash must be %s", password.Families)
	}
	if err := password.CheckEncoded(h); err != nil {
		return fmt.Errorf("password_hash is not usable: %v", strings.TrimPrefix(err.Error(), "password: "))
	}
	return nil
}
