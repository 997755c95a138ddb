package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// countsOut is a number of sessions and of their users.
type countsOut struct {
	Sessions int64 `json:"sessions"`
	Users    int64 `json:"users"`
}

// progressOut is a campaign's progress as the API gives it
// (campaign.ProgressView).
type progressOut struct {
	State         string  `json:"state"`
	AdmittedShare float64 `json:"admitted_share"`
	Targeted      struct {
		countsOut
		Exact bool `json:"exact"`
	} `json:"targeted"`
	Admitted            countsOut `json:"admitted"`
	Seen                countsOut `json:"seen"`
	Blocked             countsOut `json:"blocked"`
	Prompted            countsOut `json:"prompted"`
	Dormant             countsOut `json:"dormant"`
	Waiting             countsOut `json:"waiting"`
	Satisfied           int64     `json:"satisfied"`
	SatisfiedOfAdmitted float64   `json:"satisfied_of_admitted"`
	SatisfiedOfCohort   float64   `json:"satisfied_of_cohort"`
	// Complete is SatisfiedOfCohort.
	Complete float64 `json:"complete"`
	// The raw counters, as older servers gave them.
	BlockedSessions int64 `json:"blocked_sessions"`
	BlockedUsers    int64 `json:"blocked_users"`
	SatisfiedUsers  int64 `json:"satisfied_users"`
	Breakdown       []struct {
		Platform  string    `json:"platform"`
		Version   string    `json:"version"`
		Source    string    `json:"source"`
		Targeted  countsOut `json:"targeted"`
		Admitted  countsOut `json:"admitted"`
		Seen      countsOut `json:"seen"`
		Satisfied int64     `json:"satisfied"`
		Dormant   countsOut `json:"dormant"`
	} `json:"breakdown"`
}

// renderProgress writes a campaign's progress against its cohort: the
// funnel (targeted, admitted, seen, satisfied, dormant), the two shares,
// and the funnel by platform, version and source.
func renderProgress(w io.Writer, p *progressOut) {
	if p == nil {
		return
	}
	if p.State == "draft" {
		fmt.Fprintf(w, "  progress: a draft targets nobody yet (0 %% complete); cordon campaign preview ID shows whom it would\n")
		return
	}
	approx := ""
	if !p.Targeted.Exact {
		approx = " (users at most: counted from buckets)"
	}
	bar := func(f float64) string {
		n := max(0, min(30, int(f*30)))
		return strings.Repeat("█", n) + strings.Repeat("░", 30-n)
	}
	fmt.Fprintf(w, "  targeted  %d user(s), %d session(s)%s\n", p.Targeted.Users, p.Targeted.Sessions, approx)
	fmt.Fprintf(w, "  admitted  %.0f%% by the ramp: ~%d user(s), %d session(s)\n", p.AdmittedShare*100, p.Admitted.Users, p.Admitted.Sessions)
	fmt.Fprintf(w, "  seen      %d user(s), %d session(s) (%d blocked, %d prompted)\n", p.Seen.Users, p.Seen.Sessions, p.Blocked.Sessions, p.Prompted.Sessions)
	if p.Waiting.Sessions > 0 || p.Waiting.Users > 0 {
		fmt.Fprintf(w, "  waiting   %d user(s), %d session(s) admitted and held back by the prerequisite\n", p.Waiting.Users, p.Waiting.Sessions)
	}
	fmt.Fprintf(w, "  dormant   %d user(s), %d session(s) admitted and not seen yet\n", p.Dormant.Users, p.Dormant.Sessions)
	fmt.Fprintf(w, "  satisfied %d user(s): %.0f%% of those admitted\n", p.Satisfied, p.SatisfiedOfAdmitted*100)
	fmt.Fprintf(w, "  %s %.0f%% of the cohort complete\n", bar(p.SatisfiedOfCohort), p.SatisfiedOfCohort*100)
	if len(p.Breakdown) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "  \tplatform\tversion\tsource\ttargeted\tadmitted\tseen\tsatisfied\tdormant\t\n")
	for _, r := range p.Breakdown {
		fmt.Fprintf(tw, "  \t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t\n", orDash(r.Platform), orDash(r.Version), orDash(r.Source),
			r.Targeted.Users, r.Admitted.Users, r.Seen.Users, r.Satisfied, r.Dormant.Users)
	}
	tw.Flush()
	fmt.Fprintf(w, "  (users per row; a row of dashes counts what was seen before facts were recorded)\n")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
