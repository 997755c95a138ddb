package console

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// maxAlertsShown bounds the alerts a page lists.
const maxAlertsShown = 100

type alertsPage struct {
	Open, Acknowledged []*cordon.Alert
	Problem            string
}

// openAlerts returns the open alerts (none when the console has no
// alerts or the admin may not see incidents).
func (c *Console) openAlerts(ctx context.Context) ([]*cordon.Alert, error) {
	if c.cfg.Alerts == nil || !cordon.RoleHasScope(admin0(ctx), cordon.ScopeIncidents) {
		return nil, nil
	}
	return c.cfg.Alerts.List(ctx, string(cordon.AlertOpen), maxAlertsShown)
}

// roomAlerts are the open alerts not yet opened as incidents: once one
// is, the room shows the incident.
func (c *Console) roomAlerts(ctx context.Context) ([]*cordon.Alert, error) {
	open, err := c.openAlerts(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(open, func(a *cordon.Alert) bool { return a.Incident != "" }), nil
}

func (c *Console) alertsPage(ctx context.Context) (*alertsPage, error) {
	open, err := c.openAlerts(ctx)
	if err != nil {
		return nil, err
	}
	acked, err := c.cfg.Alerts.List(ctx, string(cordon.AlertAcknowledged), maxAlertsShown)
	if err != nil {
		return nil, err
	}
	return &alertsPage{Open: open, Acknowledged: acked}, nil
}

func (c *Console) handleAlerts(w http.ResponseWriter, r *http.Request) {
	p, err := c.alertsPage(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.page(w, r, http.StatusOK, "alerts", nil, p)
}

// alertProblem answers a refused alert action on the Alerts page.
func (c *Console) alertProblem(w http.ResponseWriter, r *http.Request, err error) {
	var ce *cordon.Error
	if !errors.As(err, &ce) || statusOf(ce.Code) >= 500 {
		c.fail(w, r, err)
		return
	}
	p, perr := c.alertsPage(r.Context())
	if perr != nil {
		c.fail(w, r, perr)
		return
	}
	p.Problem = ce.Message
	c.page(w, r, statusOf(ce.Code), "alerts", nil, p)
}

// back is where an alert action returns: the incident room when the
// form came from it, else the Alerts page.
func back(r *http.Request) string {
	if r.PostFormValue("from") == "room" {
		return Prefix + "/"
	}
	return Prefix + "/alerts"
}

func (c *Console) handleAckAlert(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	if _, err := c.cfg.Alerts.Ack(r.Context(), c.actor(r), r.PathValue("id")); err != nil {
		c.alertProblem(w, r, err)
		return
	}
	http.Redirect(w, r, back(r), http.StatusSeeOther)
}

// handleEscalateAlert opens the alert as an incident. An alert that
// reached accounts drafts a campaign for them, so, as in the API, the
// role must hold campaigns too.
func (c *Console) handleEscalateAlert(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	a, err := c.cfg.Alerts.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		c.alertProblem(w, r, err)
		return
	}
	if len(a.Evidence.Reached) > 0 && !cordon.RoleHasScope(admin(r).Role, cordon.ScopeCampaigns) {
		c.alertProblem(w, r, cordon.Errorf(cordon.ECodeForbidden, "alert %s reached %d accounts: opening it drafts a campaign for them, which your role (%s) may not do", a.ID, len(a.Evidence.Reached), admin(r).Role))
		return
	}
	if _, err := c.cfg.Alerts.Escalate(r.Context(), c.actor(r), a.ID, r.PostFormValue("severity"), cordon.RoleHasScope(admin(r).Role, cordon.ScopeCampaigns)); err != nil {
		c.alertProblem(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
}
