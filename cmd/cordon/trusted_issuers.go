package main

import (
	"context"
	"flag"
	"log/slog"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/issuers"
	"github.com/prometheus/client_golang/prometheus"
)

// trustedIssuerHelp is the --trusted-issuer flag's help (serve and gate).
const trustedIssuerHelp = "trust an external OpenID provider's tokens at the gate, /v1/decide and introspection; `SPEC` is " +
	"ISSUER_URL;aud=AUDIENCE[;alg=RS256|ES256|EdDSA]... (repeatable, or comma-separated; alg defaults to RS256)"

// issuerSpecs is the repeatable --trusted-issuer flag. A config file's
// list and the environment's value arrive joined by commas, which no
// spec holds (an issuer URL has no query, and ';' separates settings).
type issuerSpecs struct{ list []issuers.Config }

func (s *issuerSpecs) String() string {
	var out []string
	for _, c := range s.list {
		out = append(out, c.String())
	}
	return strings.Join(out, ",")
}

func (s *issuerSpecs) Set(v string) error {
	for _, spec := range strings.Split(v, ",") {
		if spec = strings.TrimSpace(spec); spec == "" {
			continue
		}
		c, err := issuers.ParseSpec(spec)
		if err != nil {
			return err
		}
		s.list = append(s.list, c)
	}
	return nil
}

// issuerFlags registers --trusted-issuer on fs.
func issuerFlags(fs *flag.FlagSet) *issuerSpecs {
	s := &issuerSpecs{}
	fs.Var(s, "trusted-issuer", trustedIssuerHelp)
	return s
}

// newIssuers builds the trusted issuers' Set; nil when none is
// configured.
func newIssuers(cfgs []issuers.Config, log *slog.Logger, now func() time.Time) (*issuers.Set, error) {
	if len(cfgs) == 0 {
		return nil, nil
	}
	set, err := issuers.New(cfgs, issuers.Options{Log: log, Clock: now})
	if err != nil {
		return nil, configError("--trusted-issuer: %v", err)
	}
	return set, nil
}

// issuerMetrics registers the trusted issuers' health on reg: per issuer,
// whether its keys are held and its last fetch worked, and how many
// fetches it cost.
func issuerMetrics(reg prometheus.Registerer, set *issuers.Set) {
	if set == nil {
		return
	}
	for i, st := range set.Status() {
		labels := prometheus.Labels{"issuer": st.Issuer}
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cordon_trusted_issuer_up", ConstLabels: labels,
				Help: "1 when the trusted issuer's keys are held and its last discovery/JWKS fetch worked."},
				func() float64 {
					st := set.Status()[i]
					if st.Keys > 0 && st.Error == "" {
						return 1
					}
					return 0
				}),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "cordon_trusted_issuer_key_fetches_total", ConstLabels: labels,
				Help: "Discovery/JWKS fetches of the trusted issuer (periodic, and for unknown key ids at most one per 30 s)."},
				func() float64 { return float64(set.Status()[i].Fetches) }))
	}
}

// runIssuers fetches every trusted issuer's keys, logging at once the
// ones it cannot reach (the process keeps running: cordon's own tokens do
// not depend on them, and the keys come when the provider does), then
// keeps them fresh until ctx ends.
func runIssuers(ctx context.Context, set *issuers.Set, log *slog.Logger) {
	if set == nil {
		return
	}
	if err := set.Start(ctx); err != nil {
		log.Error("trusted issuers: some cannot be reached; their tokens are refused until they can", "err", err)
	} else {
		log.Info("trusted issuers: keys loaded", "issuers", set.Len())
	}
	set.Run(ctx)
}
