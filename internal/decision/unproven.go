package decision

import "sort"

// Unproven returns the policy as it applies to a session whose client
// facts at login nobody recorded: a token of a trusted external issuer,
// which proves who the user is (issuer, sub) and when the provider last
// authenticated them (auth_time), and nothing about the install.
//
// It fails closed. A protecting campaign (reauth, password_reset,
// offline_rekey) judges platform, version and source at login; a session
// that cannot prove them is taken to be in the cohort whatever they are,
// since anything the request claims is what a stolen token would claim.
// Explicit users and authenticated_before still apply: the subject and
// auth_time are signed by the provider. No campaign waits for a
// prerequisite: whether a session owes one is judged on facts at login,
// so waiting would let a claim hold a denial back; without it a campaign
// denies sooner, never later. An upgrade campaign keeps its cohort and
// judges the facts the request reports (the caller passes them as the
// session's): it protects nothing an attacker wants.
//
// The derived policy is computed once per Policy and shared; it is as
// immutable as p.
func (p *Policy) Unproven() *Policy {
	p.unprovenOnce.Do(func() {
		u := &Policy{Version: p.Version, Compiled: p.Compiled, n: p.n}
		u.campaigns = append([]compiled(nil), p.campaigns...)
		for i := range u.campaigns {
			c := &u.campaigns[i]
			c.after = afterNone
			if c.current { // an upgrade: judged on what the request reports
				continue
			}
			c.platforms, c.sources, c.versions = 0, 0, nil
		}
		// The same strictest-first order as Compile, over the new masks.
		order := p.order()
		for pl := range numPlatforms {
			for _, i := range order {
				if m := u.campaigns[i].platforms; m == 0 || m&(1<<pl) != 0 {
					u.byPlatform[pl] = append(u.byPlatform[pl], i)
				}
			}
		}
		p.unproven = u
	})
	return p.unproven
}

// order lists the enforcing campaigns strictest first, as Compile does
// (Decide stops once nothing left in a list could win).
func (p *Policy) order() []int {
	out := make([]int, p.n)
	for i := range out {
		out[i] = i
	}
	sort.SliceStable(out, func(a, b int) bool {
		return p.campaigns[out[a]].kind.severity() > p.campaigns[out[b]].kind.severity()
	})
	return out
}
