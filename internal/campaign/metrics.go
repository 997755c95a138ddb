package campaign

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// collector exports the policy and each enforcing or paused campaign's
// progress counters at scrape time: one read of the campaign list and one
// progress row per campaign, never a scan of sessions.
type collector struct {
	s                                     *Service
	version, campaigns                    *prometheus.Desc
	blockedSessions, blockedUsers, satisf *prometheus.Desc
	admitted                              *prometheus.Desc
	targeted, admittedUsers, dormant      *prometheus.Desc
	ofCohort                              *prometheus.Desc
}

// Collector returns a Prometheus collector of campaign progress.
func (s *Service) Collector() prometheus.Collector {
	labels := []string{"campaign", "kind", "state"}
	return &collector{
		s:               s,
		version:         prometheus.NewDesc("cordon_policy_version", "Version of the policy this process enforces.", nil, nil),
		campaigns:       prometheus.NewDesc("cordon_policy_campaigns", "Campaigns enforced by the policy in force.", nil, nil),
		blockedSessions: prometheus.NewDesc("cordon_campaign_blocked_sessions", "Distinct sessions a campaign has denied.", labels, nil),
		blockedUsers:    prometheus.NewDesc("cordon_campaign_blocked_users", "Distinct accounts a campaign has denied.", labels, nil),
		satisf:          prometheus.NewDesc("cordon_campaign_satisfied_users", "Accounts that did what a campaign asked.", labels, nil),
		admitted:        prometheus.NewDesc("cordon_campaign_admitted_share", "Share of the cohort the ramp admits now.", labels, nil),
		targeted:        prometheus.NewDesc("cordon_campaign_targeted_users", "Users in a campaign's cohort, as last counted.", labels, nil),
		admittedUsers:   prometheus.NewDesc("cordon_campaign_admitted_users", "Users of the cohort the ramp has admitted.", labels, nil),
		dormant:         prometheus.NewDesc("cordon_campaign_dormant_users", "Admitted users not seen since their admission.", labels, nil),
		ofCohort:        prometheus.NewDesc("cordon_campaign_satisfied_of_cohort", "Satisfied users over the cohort's users (0 to 1).", labels, nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.version, c.campaigns, c.blockedSessions, c.blockedUsers, c.satisf, c.admitted,
		c.targeted, c.admittedUsers, c.dormant, c.ofCohort} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	p := c.s.Policy()
	ch <- prometheus.MustNewConstMetric(c.version, prometheus.GaugeValue, float64(p.Version))
	ch <- prometheus.MustNewConstMetric(c.campaigns, prometheus.GaugeValue, float64(p.Campaigns()))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cs, _, err := c.s.store.ActiveCampaigns(ctx)
	if err != nil {
		c.s.log.Warn("metrics: campaigns", "err", err)
		return
	}
	for _, cp := range cs {
		pv, err := c.s.Progress(ctx, cp)
		if err != nil {
			continue
		}
		l := []string{cp.ID, string(cp.Kind), string(cp.State)}
		ch <- prometheus.MustNewConstMetric(c.blockedSessions, prometheus.GaugeValue, float64(pv.BlockedSessions), l...)
		ch <- prometheus.MustNewConstMetric(c.blockedUsers, prometheus.GaugeValue, float64(pv.BlockedUsers), l...)
		ch <- prometheus.MustNewConstMetric(c.satisf, prometheus.GaugeValue, float64(pv.SatisfiedUsers), l...)
		ch <- prometheus.MustNewConstMetric(c.admitted, prometheus.GaugeValue, pv.AdmittedShare, l...)
		ch <- prometheus.MustNewConstMetric(c.targeted, prometheus.GaugeValue, float64(pv.Targeted.Users), l...)
		ch <- prometheus.MustNewConstMetric(c.admittedUsers, prometheus.GaugeValue, float64(pv.Admitted.Users), l...)
		ch <- prometheus.MustNewConstMetric(c.dormant, prometheus.GaugeValue, float64(pv.Dormant.Users), l...)
		ch <- prometheus.MustNewConstMetric(c.ofCohort, prometheus.GaugeValue, pv.SatisfiedOfCohort, l...)
	}
}
