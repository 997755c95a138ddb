package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

type campaignOut struct {
	ID       string          `json:"id"`
	Kind     string          `json:"kind"`
	Name     string          `json:"name"`
	State    string          `json:"state"`
	Cohort   json.RawMessage `json:"cohort"`
	Ramp     json.RawMessage `json:"ramp"`
	Upgrade  json.RawMessage `json:"upgrade"`
	Message  string          `json:"message"`
	Created  time.Time       `json:"created_at"`
	Progress *progressOut    `json:"progress"`

	PolicyVersion uint64 `json:"policy_version"`
}

func runCampaign(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("campaign needs a verb: create, preview, activate, pause, resume, cancel, complete, list, show")
	}
	verb := args[0]
	fs := flag.NewFlagSet("campaign "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := adminFlags(fs)
	file := fs.String("f", "", "campaign document (JSON or YAML; - for stdin) — create only")
	watch := fs.Bool("watch", false, "redraw progress every 2 s until interrupted — show only")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	c := client()
	switch verb {
	case "create":
		if *file == "" || len(pos) > 0 {
			return usageError("campaign create takes -f FILE (JSON or YAML)")
		}
		var doc []byte
		if *file == "-" {
			doc, err = io.ReadAll(io.LimitReader(stdin, 8<<20))
		} else {
			doc, err = os.ReadFile(*file)
		}
		if err != nil {
			return err
		}
		ct := documentType(*file, doc)
		var out campaignOut
		if err := c.DoRaw(ctx, "POST", "/admin/v1/campaigns", ct, strings.NewReader(string(doc)), &out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created %s campaign %s (%s); preview it, then: cordon campaign activate %s\n", out.Kind, out.ID, out.State, out.ID)
		return nil
	case "list":
		var out struct {
			Campaigns []campaignOut `json:"campaigns"`
		}
		if err := c.Do(ctx, "GET", "/admin/v1/campaigns", nil, &out); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKIND\tSTATE\tCREATED\tNAME")
		for _, x := range out.Campaigns {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", x.ID, x.Kind, x.State, x.Created.Format(time.RFC3339), x.Name)
		}
		return tw.Flush()
	}
	if len(pos) != 1 {
		return usageError("campaign %s takes one campaign ID", verb)
	}
	path := "/admin/v1/campaigns/" + url.PathEscape(pos[0])
	switch verb {
	case "preview":
		var out struct {
			Sessions      int64   `json:"sessions"`
			Users         int64   `json:"users"`
			LiveSessions  int64   `json:"live_sessions"`
			Exact         bool    `json:"exact"`
			AdmittedShare float64 `json:"admitted_share"`
			Breakdown     []struct {
				Platform, Version, Source string
				Sessions                  int64
			}
		}
		if err := c.Do(ctx, "GET", path+"/preview", nil, &out); err != nil {
			return err
		}
		exact := "exact"
		if !out.Exact {
			exact = "from aggregates; users is an upper bound"
		}
		fmt.Fprintf(stdout, "would hit %d session(s) of %d user(s) (%s), of %d live sessions; the ramp admits %.0f%% now\n",
			out.Sessions, out.Users, exact, out.LiveSessions, out.AdmittedShare*100)
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PLATFORM\tVERSION\tSOURCE\tSESSIONS")
		for _, b := range out.Breakdown {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", b.Platform, b.Version, b.Source, b.Sessions)
		}
		return tw.Flush()
	case "activate", "pause", "resume", "cancel", "complete":
		var out campaignOut
		if err := c.Do(ctx, "POST", path+"/"+verb, nil, &out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "campaign %s is %s\n", out.ID, out.State)
		return nil
	case "show":
		for {
			var out campaignOut
			if err := c.Do(ctx, "GET", path, nil, &out); err != nil {
				return err
			}
			if *watch {
				fmt.Fprint(stdout, "\033[H\033[2J")
			}
			showCampaign(stdout, &out)
			if !*watch {
				return nil
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(2 * time.Second):
			}
		}
	}
	return usageError("unknown verb campaign %s", verb)
}

// documentType is the media type of a campaign document: by the file's
// extension, and for stdin (or no known extension) by its first byte, since
// a JSON document is an object and a YAML one almost never starts with {.
func documentType(file string, doc []byte) string {
	switch strings.ToLower(filepath.Ext(file)) {
	case ".yaml", ".yml":
		return "application/yaml"
	case ".json":
		return "application/json"
	}
	if t := strings.TrimLeft(strings.TrimPrefix(string(doc), "\ufeff"), " \t\r\n"); strings.HasPrefix(t, "{") {
		return "application/json"
	}
	return "application/yaml"
}

func showCampaign(w io.Writer, c *campaignOut) {
	fmt.Fprintf(w, "%s  %s  %s\n  %s\n", c.ID, c.Kind, c.State, c.Name)
	fmt.Fprintf(w, "  cohort:  %s\n", c.Cohort)
	if len(c.Ramp) > 0 && string(c.Ramp) != "null" {
		fmt.Fprintf(w, "  ramp:    %s\n", c.Ramp)
	}
	if len(c.Upgrade) > 0 && string(c.Upgrade) != "null" {
		fmt.Fprintf(w, "  upgrade: %s\n", c.Upgrade)
	}
	renderProgress(w, c.Progress)
}
