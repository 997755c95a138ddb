package alert_test

import (
	"crypto/sha256"
	"hash"
)

func sha256New() func() hash.Hash { return sha256.New }
