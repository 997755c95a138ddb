package authn

import "github.com/cordon-dev/cordon/internal/token"

// KeySet returns the signing keys in force: what signs access tokens signs
// the Shared Signals transmitter's security event tokens too, so receivers
// check both against the one JWKS.
func (s *Service) KeySet() *token.KeySet { return s.signer.KeySet() }
