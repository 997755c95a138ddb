package httpapi

import (
	"github.com/cordon-dev/cordon/internal/password"
	"github.com/prometheus/client_golang/prometheus"
)

// verifications exports the hasher's verification counts per hash family.
// Dummy verifications (unknown usernames) count under the family they
// imitate, so the metric tells no more than the timing does.
type verifications struct {
	h    *password.Hasher
	desc *prometheus.Desc
}

func newVerifications(h *password.Hasher) *verifications {
	return &verifications{h: h, desc: prometheus.NewDesc("cordon_password_verifications_total",
		"Password verifications by hash family (argon2id-mM-tT-pP, bcrypt-COST): the guesses actually evaluated.", []string{"family"}, nil)}
}

func (v *verifications) Describe(ch chan<- *prometheus.Desc) { ch <- v.desc }

func (v *verifications) Collect(ch chan<- prometheus.Metric) {
	for f, n := range v.h.Verifications() {
		ch <- prometheus.MustNewConstMetric(v.desc, prometheus.CounterValue, float64(n), string(f))
	}
}
