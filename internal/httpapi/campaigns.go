package httpapi

import (
	"context"
	"io"
	"mime"
	"net/http"

	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/campaign"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/resetmail"
)

func actor(r *http.Request) string {
	a, _ := r.Context().Value(keyActor).(string)
	return a
}

// maxCampaignBody bounds a campaign document (explicit user lists can be
// long: 100,000 ids take about 3 MiB).
const maxCampaignBody = 4 << 20

func (s *Server) handleCreateCampaign(w http.ResponseWriter, r *http.Request) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	format := ""
	switch mt {
	case "application/json":
		format = "json"
	case "application/yaml", "application/x-yaml", "text/yaml":
		format = "yaml"
	default:
		writeError(w, r, cordon.Errorf(cordon.ECodeMediaType, "Content-Type must be application/json or application/yaml"))
		return
	}
	doc, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCampaignBody))
	if err != nil {
		writeError(w, r, jsonError(err))
		return
	}
	incidentID := r.URL.Query().Get("incident")
	if incidentID != "" {
		if err := s.canLinkAtCreation(r, incidentID); err != nil {
			writeError(w, r, err)
			return
		}
	}
	id := cordon.NewID("c")
	c, err := change(s, r, func(ctx context.Context) (*cordon.Campaign, error) {
		return s.campaigns.CreateWithID(ctx, id, doc, format, actor(r))
	}, audit.ActionWrite, "cordon:campaign/"+id, "campaign draft created", "campaigns")
	if err != nil {
		writeError(w, r, err)
		return
	}
	if incidentID != "" {
		if _, err := s.incidents.Link(r.Context(), s.incidentActor(r), incidentID, cordon.LinkCampaign, c.ID); err != nil {
			// The campaign exists: say so, rather than let a retry make a
			// second one.
			writeError(w, r, cordon.FieldError(cordon.ErrorCode(err), "incident", "campaign %s was created as a draft but not linked to incident %s (%s); link it with cordon incident link %s campaign %s",
				c.ID, short(incidentID), publicMessage(err), short(incidentID), c.ID))
			return
		}
	}
	w.Header().Set("Location", "/admin/v1/campaigns/"+c.ID)
	writeJSON(w, http.StatusCreated, c)
}

// canLinkAtCreation checks, before a campaign is created with
// ?incident=ID, that the incident exists and that the token may change
// incidents too: a campaigns-only token must not touch an incident.
func (s *Server) canLinkAtCreation(r *http.Request, incidentID string) error {
	if s.incidents == nil {
		return cordon.FieldError(cordon.ECodeUnprocessable, "incident", "this server keeps no incidents")
	}
	if at, _ := r.Context().Value(keyAdmin).(*cordon.AdminToken); at == nil || !at.HasScope(cordon.ScopeIncidents) {
		return cordon.FieldError(cordon.ECodeForbidden, "incident", "linking to an incident needs the scope %q too", cordon.ScopeIncidents)
	}
	_, err := s.incidents.Get(r.Context(), incidentID)
	if cordon.ErrorCode(err) == cordon.ECodeNotFound {
		return cordon.FieldError(cordon.ECodeNotFound, "incident", "no incident %q", short(incidentID))
	}
	return err
}

func (s *Server) handleListCampaigns(w http.ResponseWriter, r *http.Request) {
	cs, err := s.campaigns.List(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	if cs == nil {
		cs = []*cordon.Campaign{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"campaigns": cs})
}

type campaignView struct {
	*cordon.Campaign
	Progress *campaign.ProgressView `json:"progress"`
	// Email counts the links a verify: email campaign queued, sent and
	// gave up on; absent for other campaigns.
	Email *cordon.MailCounts `json:"email,omitempty"`
	// PolicyVersion is the version of the policy this server enforces.
	PolicyVersion uint64 `json:"policy_version"`
	// Priority counts the users the ramp admits before its order (by
	// why); absent without a ramp priority. Who and why one user:
	// GET …/admission?user=.
	Priority *campaign.PriorityCounts `json:"priority,omitempty"`
}

func (s *Server) campaign(w http.ResponseWriter, r *http.Request) (*cordon.Campaign, bool) {
	c, err := s.campaigns.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		if cordon.ErrorCode(err) == cordon.ECodeNotFound {
			err = cordon.Errorf(cordon.ECodeNotFound, "no campaign %q", short(r.PathValue("id")))
		}
		writeError(w, r, err)
		return nil, false
	}
	return c, true
}

func short(s string) string { return cordon.Short(s) }

func (s *Server) handleGetCampaign(w http.ResponseWriter, r *http.Request) {
	c, ok := s.campaign(w, r)
	if !ok {
		return
	}
	p, err := s.campaigns.Progress(r.Context(), c)
	if err != nil {
		writeError(w, r, err)
		return
	}
	v := campaignView{Campaign: c, Progress: p, PolicyVersion: s.campaigns.Policy().Version, Priority: campaign.Priorities(c)}
	if c.Verify == cordon.VerifyEmail && s.store != nil {
		n, err := s.store.MailCounts(r.Context(), resetmail.Prefix(c.ID))
		if err != nil {
			writeError(w, r, err)
			return
		}
		v.Email = &n
	}
	writeJSON(w, http.StatusOK, v)
}

// handleAdmission answers when and why the campaign admits one user
// (?user=, an account id or username).
func (s *Server) handleAdmission(w http.ResponseWriter, r *http.Request) {
	c, ok := s.campaign(w, r)
	if !ok {
		return
	}
	ref := r.URL.Query().Get("user")
	switch {
	case ref == "":
		writeError(w, r, cordon.FieldError(cordon.ECodeInvalid, "user", "give ?user= an account id or username"))
		return
	case len(ref) > 254:
		writeError(w, r, cordon.FieldError(cordon.ECodeInvalid, "user", "user is %d bytes; the limit is 254", len(ref)))
		return
	}
	a, err := s.campaigns.AdmissionOf(r.Context(), c, ref)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) handlePreview(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.campaign(w, r); !ok {
		return
	}
	p, err := s.campaigns.Preview(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) handleTrail(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.campaign(w, r); !ok {
		return
	}
	t, err := s.campaigns.Trail(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	if t == nil {
		t = []*cordon.TrailEntry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"trail": t})
}

func (s *Server) handleTransition(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.campaign(w, r); !ok {
		return
	}
	c, err := change(s, r, func(ctx context.Context) (*cordon.Campaign, error) {
		return s.campaigns.Transition(ctx, r.PathValue("id"), r.PathValue("action"), actor(r))
	}, audit.ActionWrite, "cordon:campaign/"+short(r.PathValue("id")), "campaign "+short(r.PathValue("action")), "campaigns")
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}
