package httpapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/cordon"
)

// revokeExternal is DELETE /admin/v1/accounts/{ref}/sessions for a user of
// a trusted external issuer (ref is "ISSUER#SUB", cordon.Subject's
// AccountID). cordon holds no session of theirs to revoke, so it creates
// and activates a ramp-less reauth campaign naming the subject: every
// token from a login at the provider before now is refused, by the server
// and by every gate through the feed, and a new login there passes. The
// answer names the campaign; cancelling it restores the old tokens.
func (s *Server) revokeExternal(w http.ResponseWriter, r *http.Request, sub cordon.Subject) {
	name := "sessions revoked: " + sub.AccountID()
	if len(name) > 200 {
		name = name[:197] + "..."
	}
	doc, err := json.Marshal(map[string]any{"kind": cordon.KindReauth, "name": name,
		"cohort": map[string]any{"subjects": []cordon.Subject{sub}}})
	if err != nil {
		writeError(w, r, err)
		return
	}
	id := cordon.NewID("c")
	if err := s.changed(r, func(ctx context.Context) error {
		_, err := s.campaigns.CreateWithID(ctx, id, doc, "json", actor(r))
		return err
	}, audit.ActionWrite, "cordon:campaign/"+id, "all sessions of "+sub.AccountID()+" revoked: reauth campaign created", "sessions", "campaigns"); err != nil {
		writeError(w, r, err)
		return
	}
	c, err := change(s, r, func(ctx context.Context) (*cordon.Campaign, error) {
		return s.campaigns.Transition(ctx, id, "activate", actor(r))
	}, audit.ActionWrite, "cordon:campaign/"+id, "campaign activate", "campaigns")
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"revoked": []string{}, "campaign": c.ID})
}
