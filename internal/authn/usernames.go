package authn

import (
	"context"
	"errors"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// checkConfusable refuses a new name whose TR39 skeleton is the name of an
// existing account: a whole-script look-alike ("аре" in Cyrillic beside
// "ape") that the one-script rule lets through. Only a skeleton that is
// itself an existing name is found, since the store keeps no skeletons; a
// mixed-script look-alike never gets this far.
func (s *Service) checkConfusable(ctx context.Context, name string) error {
	p, err := PrepareUsername(name)
	if err != nil {
		return err
	}
	skel := usernameSkeleton(p)
	if cordon.UsernameKey(skel) == cordon.UsernameKey(p) {
		return nil
	}
	a, err := s.store.AccountByUsername(ctx, skel)
	switch {
	case errors.Is(err, cordon.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	return cordon.FieldError(cordon.ECodeConflict, "username", "username %q looks like the existing %q", name, a.Username)
}

// skeletonKey is what two names of one import batch must not share.
func skeletonKey(name string) string {
	p, err := PrepareUsername(name)
	if err != nil {
		return cordon.UsernameKey(name)
	}
	return cordon.UsernameKey(usernameSkeleton(p))
}
