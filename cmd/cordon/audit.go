package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/adminclient"
	"github.com/cordon-dev/cordon/internal/audit"
	"github.com/cordon-dev/cordon/internal/httpapi"
	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"
)

// checkpointFile is the export of a log's checkpoints: what a second party
// keeps, and what cordon audit verify --checkpoints reads back.
type checkpointFile = httpapi.CheckpointsView

type checkpointView = httpapi.CheckpointView

func auditCmd(a *app) *cobra.Command {
	return group(&cobra.Command{
		Use:   "audit",
		Short: "Send access events to the audit log, report on them, and verify the log",
		Long: `The audit log records who read whose data: events sent by your services,
and every admin action. It is a Merkle tree with signed checkpoints, so a
second party can check that no entry was changed or removed.`,
		Example: `  cordon audit send -f events.ndjson
  cordon audit report --principal svc-export --from 2026-05-01T00:00:00Z
  cordon audit checkpoints -o held.json
  cordon audit verify --key "$VKEY" --checkpoints held.json`,
	}, auditSendCmd(a), auditReportCmd(a), auditPrincipalsCmd(a), auditVerifyCmd(a), auditCheckpointsCmd(a), auditProveCmd(a), auditKeygenCmd(a), auditWitnessCmd(a))
}

func auditPrincipalsCmd(a *app) *cobra.Command {
	return leaf(&cobra.Command{
		Use:   "principals [--principal P]...",
		Short: "List the principals the audit log knows, with first and last seen and event counts",
		Long: `List the principals the log knows, each with its first and last event and its
event counts by action (read, write, export, delete). --principal (names or '*'
patterns such as svc-*) narrows the list; --from and --to bound the window
(default: the whole log). The question is itself recorded in the log.`,
		Example: `  cordon audit principals
  cordon audit principals --principal 'svc-*' --format csv`,
		Args: cobra.ArbitraryArgs, // more principals
	}, func(fs *flag.FlagSet) action {
		var principals multiFlag
		fs.Var(&principals, "principal", "only principals matching this name or '*' pattern, e.g. svc-* (repeat for several)")
		from := fs.String("from", "", "window start, RFC 3339 (default: the log's beginning)")
		to := fs.String("to", "", "window end, RFC 3339 (default: no end)")
		format := fs.String("format", "text", "text, json or csv")
		return func(ctx context.Context, pos []string) error {
			principals = append(principals, pos...)
			return auditQuestion(ctx, a.client(), "principals", "", principals, *from, *to, *format, a.stdout)
		}
	})
}

func auditVerifyCmd(a *app) *cobra.Command {
	return leaf(&cobra.Command{
		Use:   "verify",
		Short: "Recompute the audit log and check every signed checkpoint",
		Long: `Download the whole audit log, recompute its Merkle tree, and check every
signed checkpoint against it, and the checkpoints of a file kept earlier
(--checkpoints) with their witnesses' cosignatures (--witness).`,
		Example: `  cordon audit verify --key "$VKEY"
  cordon audit verify --key "$VKEY" --checkpoints held.json --witness "$WITNESS_VKEY"`,
		Args: noArgs,
	}, func(fs *flag.FlagSet) action {
		var keys, witnesses multiFlag
		fs.Var(&keys, "key", "verifier key of the log's checkpoints (name+hash+base64), from a source you trust; repeat for a log whose key changed; default: the server's, with a warning")
		held := fs.String("checkpoints", "", "a checkpoint file exported earlier (cordon audit checkpoints -o FILE) or written by a witness (cordon audit witness -o FILE); its checkpoints must still hold")
		fs.Var(&witnesses, "witness", "verifier key of a witness (repeat for several): a checkpoint in --checkpoints must carry its cosignature")
		return func(ctx context.Context, _ []string) error {
			if len(witnesses) > 0 && *held == "" {
				return usageError("--witness needs --checkpoints FILE: the checkpoints the witnesses cosigned (cordon audit witness -o FILE)")
			}
			return auditVerify(ctx, a.client(), keys, *held, witnesses, a.stdout, a.stderr)
		}
	})
}

func auditKeygenCmd(a *app) *cobra.Command {
	return leaf(&cobra.Command{
		Use:   "keygen -o FILE",
		Short: "Make a signing key for the log's checkpoints or for a witness",
		Long: `Make a signing key and write its secret to a new file (mode 0600); print its
verifier key. For the log: cordon serve --audit-key FILE. For a witness: the
--origin is the witness's own name.`,
		Example: `  cordon audit keygen -o audit.key
  cordon audit keygen --origin witness.example.com -o witness.key`,
		Args: noArgs,
	}, func(fs *flag.FlagSet) action {
		origin := fs.String("origin", "", "the key's name: the log's origin (shown by cordon audit checkpoints) for a log key, or the witness's own name for a witness key; default: the server's origin")
		out := fs.String("o", "", "write the secret key to this new file (mode 0600); required")
		return func(ctx context.Context, _ []string) error {
			if *out == "" {
				return usageError("audit keygen takes -o FILE and no arguments")
			}
			return auditKeygen(ctx, a.client, *origin, *out, a.stdout)
		}
	})
}

func auditWitnessCmd(a *app) *cobra.Command {
	return leaf(&cobra.Command{
		Use:   "witness --log-key VKEY --key FILE --state FILE",
		Short: "Cosign the log's latest checkpoint if it extends the last one cosigned",
		Long: `Act as a witness: fetch the log's latest checkpoint, check it is consistent
with the last one this witness cosigned (kept in --state), and cosign it.`,
		Example: `  cordon audit witness --log-key "$VKEY" --key witness.key --state witness.state -o held.json`,
		Args:    noArgs,
	}, func(fs *flag.FlagSet) action {
		logKey := fs.String("log-key", "", "the log's verifier key, from a source you trust (required)")
		key := fs.String("key", "", "the witness's secret key file (cordon audit keygen --origin WITNESS-NAME -o FILE) (required)")
		state := fs.String("state", "", "the witness's state file: the last checkpoint it cosigned; created on first use (required)")
		out := fs.String("o", "", "also write the cosigned checkpoint as a checkpoint file verify reads (--checkpoints)")
		return func(ctx context.Context, _ []string) error {
			if *logKey == "" || *key == "" || *state == "" {
				return usageError("audit witness needs --log-key VKEY, --key FILE and --state FILE, and takes no arguments")
			}
			return auditWitness(ctx, a.client(), *logKey, *key, *state, *out, a.stdout)
		}
	})
}

func auditCheckpointsCmd(a *app) *cobra.Command {
	return leaf(&cobra.Command{
		Use:     "checkpoints [-o FILE | --limit N [--after SIZE]]",
		Short:   "Export the log's signed checkpoints for a second party to keep",
		Long:    "Export the log's signed checkpoints (JSON), for a second party to keep and later pass to cordon audit verify --checkpoints.",
		Example: "  cordon audit checkpoints -o held.json\n  cordon audit checkpoints --limit 100 --after 5000",
		Args:    noArgs,
	}, func(fs *flag.FlagSet) action {
		out := fs.String("o", "", "write the export to this file instead of standard output")
		after := fs.Uint64("after", 0, "with --limit: list only checkpoints of a size above this (the next_after of the page before)")
		limit := fs.Int("limit", 0, "list one page of at most this many checkpoints (1 to 10000), with next_after naming the next page; default: all of them")
		return func(ctx context.Context, _ []string) error {
			if *limit != 0 || *after != 0 {
				return auditCheckpointsPage(ctx, a.client(), *after, *limit, a.stdout)
			}
			return auditCheckpoints(ctx, a.client(), *out, a.stdout)
		}
	})
}

func auditReportCmd(a *app) *cobra.Command {
	return leaf(&cobra.Command{
		Use:   "report (--principal P... | --subject USER | --category NAME) [--from T] [--to T]",
		Short: "Report whose data principals touched, who touched a user, or who touched a category",
		Long: `Report whose data the principals (names or '*' patterns such as svc-*) read
between --from and --to: the accounts touched (a user logged by username and
by account id counts once; subjects that are no account are counted apart, as
unresolved), the events by action, the categories touched and not touched.
--save keeps the report, so its id can be a campaign's cohort
(users_from_report). Principals may also be given as arguments.

--subject USER asks the reverse: which principals touched this user (any name
of the account), when, which categories and actions. --category NAME asks
which principals touched that category (e.g. payment, password_hash).
--principal then narrows either. Every question is recorded in the log.`,
		Example: `  cordon audit report --principal svc-export --from 2026-05-01T00:00:00Z --to 2026-05-08T00:00:00Z
  cordon audit report --principal svc-export --format csv > touched.csv
  cordon audit report --principal svc-export --save
  cordon audit report --principal 'svc-*'
  cordon audit report --subject alice
  cordon audit report --category payment --from 2026-05-01T00:00:00Z`,
		Args: cobra.ArbitraryArgs, // more principals
	}, func(fs *flag.FlagSet) action {
		var principals multiFlag
		fs.Var(&principals, "principal", "whose accesses: a name or a '*' pattern such as svc-* (repeat for several)")
		subject := fs.String("subject", "", "instead: who touched this user (a username or an account id; every name of the account counts), by principal")
		category := fs.String("category", "", "instead: every principal that touched this category (e.g. payment, password_hash)")
		from := fs.String("from", "", "window start, RFC 3339 (default: 30 days before --to; with --subject or --category, the log's beginning)")
		to := fs.String("to", "", "window end, RFC 3339 (default: the server's now, plus the 5 minutes an event may be dated ahead; with --subject or --category, no end)")
		format := fs.String("format", "text", "text, json or csv")
		save := fs.Bool("save", false, "keep the report; its id can be a campaign cohort (users_from_report)")
		return func(ctx context.Context, pos []string) error {
			principals = append(principals, pos...)
			if *subject != "" || *category != "" {
				return auditReportQuestion(ctx, a.client, *subject, *category, principals, *from, *to, *format, *save, a.stdout)
			}
			if len(principals) == 0 {
				return usageError("audit report needs --principal NAME, --subject USER or --category NAME")
			}
			return auditReport(ctx, a.client(), principals, *from, *to, *format, *save, a.stdout)
		}
	})
}

func auditProveCmd(a *app) *cobra.Command {
	return leaf(&cobra.Command{
		Use:     "prove INDEX",
		Short:   "Prove that one entry is in the log",
		Long:    "Fetch and check the inclusion proof of the entry at INDEX against the latest signed checkpoint, and print the entry.",
		Example: `  cordon audit prove 42 --key "$VKEY"`,
		Args:    oneArg("entry INDEX"),
	}, func(fs *flag.FlagSet) action {
		key := fs.String("key", "", "verifier key (default: the server's, with a warning)")
		return func(ctx context.Context, pos []string) error {
			index, err := strconv.ParseUint(pos[0], 10, 63)
			if err != nil {
				return usageError("audit prove: %q is not an entry index", pos[0])
			}
			return auditProve(ctx, a.client(), index, *key, a.stdout, a.stderr)
		}
	})
}

func auditSendCmd(a *app) *cobra.Command {
	return leaf(&cobra.Command{
		Use:   "send [-f FILE]",
		Short: "Send access events (NDJSON) into the audit log",
		Long: `Send access events, one JSON object per line, into the audit log (the token
needs scope audit:write). Each event names a principal, an action, the users
whose data it touched and when.`,
		Example: `  cordon audit send -f events.ndjson
  tail -F access.ndjson | cordon audit send`,
		Args: noArgs,
	}, func(fs *flag.FlagSet) action {
		file := fs.String("f", "-", "events, one JSON object per line (NDJSON); - for standard input")
		return func(ctx context.Context, _ []string) error {
			return auditSend(ctx, a.client(), *file, a.stdin, a.stdout)
		}
	})
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func fetchCheckpoints(ctx context.Context, c *adminclient.Client) (*checkpointFile, error) {
	var f checkpointFile
	if err := c.Do(ctx, "GET", "/audit/v1/checkpoints", nil, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

func auditCheckpoints(ctx context.Context, c *adminclient.Client, out string, stdout io.Writer) error {
	f, err := fetchCheckpoints(ctx, c)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if out == "" {
		_, err = stdout.Write(b)
		return err
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d checkpoints of %s (up to %d entries) to %s\n", len(f.Checkpoints), f.Origin, lastSize(f), out)
	return nil
}

func lastSize(f *checkpointFile) uint64 {
	if len(f.Checkpoints) == 0 {
		return 0
	}
	return f.Checkpoints[len(f.Checkpoints)-1].Size
}

// verifiers returns the key to check checkpoints with: the one given, or
// the server's (which proves only that the log agrees with itself).
func verifiers(key string, served *checkpointFile, stderr io.Writer) (note.Verifiers, string, error) {
	return verifierList([]string{key}, served, stderr)
}

// verifierList is verifiers for several keys of one log (its key changed).
func verifierList(keys []string, served *checkpointFile, stderr io.Writer) (note.Verifiers, string, error) {
	keys = slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return k == "" })
	if len(keys) == 0 {
		fmt.Fprintf(stderr, "warning: no --key given; trusting the server's own key %s\n", served.VerifierKey)
		keys = []string{served.VerifierKey}
	}
	var vs []note.Verifier
	for _, key := range keys {
		v, err := note.NewVerifier(key)
		if err != nil {
			return nil, "", usageError("--key %q is not a note verifier key: %v", key, err)
		}
		if len(vs) > 0 && v.Name() != vs[0].Name() {
			return nil, "", usageError("--key: the keys name two logs, %q and %q", vs[0].Name(), v.Name())
		}
		vs = append(vs, v)
	}
	return note.VerifierList(vs...), vs[0].Name(), nil
}

func auditVerify(ctx context.Context, c *adminclient.Client, keys []string, heldFile string, witnesses []string, stdout, stderr io.Writer) error {
	served, err := fetchCheckpoints(ctx, c)
	if err != nil {
		return err
	}
	var heldCps *checkpointFile
	if heldFile != "" {
		b, err := os.ReadFile(heldFile)
		if err != nil {
			return err
		}
		heldCps = new(checkpointFile)
		if err := json.Unmarshal(b, heldCps); err != nil {
			return fmt.Errorf("%s is not a checkpoint file: %w", heldFile, err)
		}
		if len(keys) == 0 && heldCps.VerifierKey != "" {
			// The held file's key was recorded when it was exported: trust
			// it over what the server says today.
			keys = []string{heldCps.VerifierKey}
			fmt.Fprintf(stderr, "using the verifier key recorded in %s: %s\n", heldFile, heldCps.VerifierKey)
		}
	}
	vs, origin, err := verifierList(keys, served, stderr)
	if err != nil {
		return err
	}
	var witnessed []string
	if len(witnesses) > 0 {
		if witnessed, err = checkWitnesses(witnesses, heldCps, heldFile); err != nil {
			return err
		}
	}
	var cps []audit.Checkpoint
	for _, cp := range served.Checkpoints {
		cps = append(cps, audit.Checkpoint{Origin: origin, Note: []byte(cp.Note)})
	}
	held := 0
	if heldCps != nil {
		for _, cp := range heldCps.Checkpoints {
			cps = append(cps, audit.Checkpoint{Origin: origin, Note: []byte(cp.Note)})
		}
		held = len(heldCps.Checkpoints)
	}
	resp, err := c.Open(ctx, "GET", "/audit/v1/entries?to="+strconv.FormatUint(served.LogSize, 10), "", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := strconv.ParseUint(resp.Header.Get("Cordon-Audit-Log-Size"), 10, 64)
	if err != nil {
		return fmt.Errorf("the server sent no log size with its entries")
	}
	n = min(n, served.LogSize)
	// Lines are split here and decoded on every core (audit.VerifyLines).
	lines := &lineReader{r: resp.Body}
	next := lines.next
	decode := func(line []byte) (audit.StoredEntry, error) {
		// As json.Unmarshal reads it, without reflection for the lines
		// the server writes.
		v, err := httpapi.ParseEntryLine(line)
		if err != nil {
			return audit.StoredEntry{}, fmt.Errorf("the export holds a malformed line: %w", err)
		}
		x := v.Indexed
		return audit.StoredEntry{Index: v.Index, Leaf: v.Leaf, LeafHash: v.LeafHash,
			Indexed: &audit.Event{Time: x.Time, Principal: x.Principal, Action: x.Action, Subject: x.Subject, Categories: x.Categories,
				Account: deref(x.Account), Resolved: x.Account != nil}}, nil
	}
	start := time.Now()
	last := start
	progress := func(done uint64) {
		if now := time.Now(); now.Sub(last) >= time.Second || done == n {
			last = now
			pct := 100.0
			if n > 0 {
				pct = 100 * float64(done) / float64(n)
			}
			fmt.Fprintf(stderr, "verified %d of %d entries (%.0f%%), %s\n", done, n, pct, now.Sub(start).Round(time.Millisecond))
		}
	}
	rep, err := audit.VerifyLines(next, decode, n, cps, vs, progress)
	var te *audit.TamperError
	if errors.As(err, &te) {
		return &exitError{code: 1, err: errors.New(verdict(te, len(served.Checkpoints), heldFile))}
	}
	var unverified *note.UnverifiedNoteError
	if errors.As(err, &unverified) {
		return &exitError{code: 1, err: fmt.Errorf("verification failed: %w: a checkpoint carries no signature by the key you trust (--key); it was signed with another key, so the log was re-signed, or --key is not this log's", err)}
	}
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("verification failed: %w", err)}
	}
	fmt.Fprintf(stdout, "ok: %s holds %d entries; root %s\n", origin, rep.Entries, base64.StdEncoding.EncodeToString(rep.Root))
	proven := "no entries yet"
	if rep.Proven > 0 {
		proven = fmt.Sprintf("entries 0..%d proven", rep.Proven-1)
	}
	fmt.Fprintf(stdout, "%d checkpoints (%d held from a file) verified and consistent; %s\n", rep.Checkpoints, held, proven)
	if rep.Entries > rep.Proven {
		fmt.Fprintf(stdout, "%d newer entries are not yet covered by a checkpoint\n", rep.Entries-rep.Proven)
	}
	for _, w := range witnessed {
		fmt.Fprintln(stdout, w)
	}
	return nil
}

func auditReport(ctx context.Context, c *adminclient.Client, principals []string, from, to, format string, save bool, stdout io.Writer) error {
	switch format {
	case "text", "json", "csv":
	default:
		return usageError("--format must be text, json or csv")
	}
	var path string
	var body io.Reader
	method := "GET"
	if save {
		// The server fills in what is not given, as for an unsaved report.
		req := map[string]any{"principals": principals}
		if to != "" {
			t, err := time.Parse(time.RFC3339Nano, to)
			if err != nil {
				return usageError("--to must be an RFC 3339 time such as 2026-11-29T00:00:00Z")
			}
			req["to"] = t
		}
		if from != "" {
			f, err := time.Parse(time.RFC3339Nano, from)
			if err != nil {
				return usageError("--from must be an RFC 3339 time such as 2026-11-01T00:00:00Z")
			}
			req["from"] = f
		}
		b, _ := json.Marshal(req)
		method, path, body = "POST", "/admin/v1/audit/reports?format="+format, strings.NewReader(string(b))
	} else {
		q := url.Values{"principal": principals, "format": {format}}
		if from != "" {
			q.Set("from", from)
		}
		if to != "" {
			q.Set("to", to)
		}
		path = "/admin/v1/audit/report?" + q.Encode()
	}
	resp, err := c.Open(ctx, method, path, "application/json", body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(stdout, resp.Body)
	return err
}

func auditProve(ctx context.Context, c *adminclient.Client, index uint64, key string, stdout, stderr io.Writer) error {
	served, err := fetchCheckpoints(ctx, c)
	if err != nil {
		return err
	}
	vs, origin, err := verifiers(key, served, stderr)
	if err != nil {
		return err
	}
	var p struct {
		Index      uint64   `json:"index"`
		Size       uint64   `json:"size"`
		Leaf       string   `json:"leaf"`
		LeafHash   string   `json:"leaf_hash"`
		Hashes     []string `json:"hashes"`
		Checkpoint string   `json:"checkpoint"`
	}
	if err := c.Do(ctx, "GET", "/audit/v1/proof/inclusion?index="+strconv.FormatUint(index, 10), nil, &p); err != nil {
		return err
	}
	size, root, err := audit.OpenCheckpoint([]byte(p.Checkpoint), vs, origin)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("the proof's checkpoint does not verify: %w", err)}
	}
	// The proof is about the entry's bytes: hash them here rather than
	// take the server's hash, and show what they say.
	leaf, err := base64.StdEncoding.DecodeString(p.Leaf)
	if err != nil {
		return fmt.Errorf("the server sent a malformed entry")
	}
	ev, err := audit.ParseLeaf(leaf)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("entry %d is not a canonical event: %w", index, err)}
	}
	leafHash := audit.LeafHash(leaf)
	hs := make([][]byte, len(p.Hashes))
	for i, h := range p.Hashes {
		if hs[i], err = base64.StdEncoding.DecodeString(h); err != nil {
			return fmt.Errorf("the server sent a malformed proof hash")
		}
	}
	if size != p.Size {
		return &exitError{code: 1, err: fmt.Errorf("the proof is for size %d but its checkpoint signs size %d", p.Size, size)}
	}
	if err := audit.VerifyInclusion(leafHash, index, size, hs, root); err != nil {
		return &exitError{code: 1, err: fmt.Errorf("entry %d is NOT proven in the signed tree of %d entries: %w", index, size, err)}
	}
	fmt.Fprintf(stdout, "entry %d is in the signed tree of %d entries (%d-hash proof, %d bytes):\n", index, size, len(hs), len(hs)*audit.HashSize)
	fmt.Fprintf(stdout, "  %s %s %s of %s (%s)", ev.Time.Format(time.RFC3339Nano), ev.Principal, ev.Action, ev.Subject, strings.Join(ev.Categories, ", "))
	if ev.Purpose != "" {
		fmt.Fprintf(stdout, " for %q", ev.Purpose)
	}
	if ev.Source != "" {
		fmt.Fprintf(stdout, " from %s", ev.Source)
	}
	fmt.Fprintln(stdout)
	return nil
}

// auditSend posts NDJSON events in batches of 1,000; each batch is stored
// whole or not at all, and a refused batch stops the command, naming the
// event by its line.
func auditSend(ctx context.Context, c *adminclient.Client, file string, stdin io.Reader, stdout io.Writer) error {
	in := stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	var (
		batch  strings.Builder
		lineOf []int // the input line of each event in the batch
		lines  int
		sent   int
	)
	flush := func() error {
		if len(lineOf) == 0 {
			return nil
		}
		var out struct {
			Accepted   int    `json:"accepted"`
			FirstIndex uint64 `json:"first_index"`
			LastIndex  uint64 `json:"last_index"`
		}
		err := c.DoRaw(ctx, "POST", "/audit/v1/events", "application/x-ndjson", strings.NewReader(batch.String()), &out)
		if err != nil {
			span := fmt.Sprintf("none of lines %d..%d stored; %d events stored before them", lineOf[0], lineOf[len(lineOf)-1], sent)
			var ae *adminclient.APIError
			if errors.As(err, &ae) {
				if k, ok := eventIndex(ae.Field); ok && k < len(lineOf) {
					return fmt.Errorf("line %d: %w (%s)", lineOf[k], err, span)
				}
			}
			return fmt.Errorf("%w (%s)", err, span)
		}
		sent += out.Accepted
		fmt.Fprintf(stdout, "stored %d events at %d..%d\n", out.Accepted, out.FirstIndex, out.LastIndex)
		batch.Reset()
		lineOf = lineOf[:0]
		return nil
	}
	for sc.Scan() {
		lines++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		batch.WriteString(line)
		batch.WriteByte('\n')
		lineOf = append(lineOf, lines)
		if len(lineOf) == 1000 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", lines+1, err)
	}
	return flush()
}

// eventIndex reads k from an error field such as "events[k].categories[0]".
func eventIndex(field string) (int, bool) {
	rest, ok := strings.CutPrefix(field, "events[")
	if !ok {
		return 0, false
	}
	num, _, ok := strings.Cut(rest, "]")
	if !ok {
		return 0, false
	}
	k, err := strconv.Atoi(num)
	return k, err == nil
}

// verdict says what verify found, naming the first bad entry.
func verdict(te *audit.TamperError, served int, heldFile string) string {
	where := fmt.Sprintf("entry %d", te.Index)
	switch {
	case strings.HasPrefix(te.Reason, "log truncated"):
		// Every entry from Index on is missing; Index is the first.
	case te.Checkpoint >= 0 && te.End > te.Index+1:
		where = fmt.Sprintf("entries %d..%d (a signed root covers them together, so the first bad one is in this span)", te.Index, te.End-1)
	}
	msg := fmt.Sprintf("TAMPERED: first bad entry: %s: %s; the %d entries before it are intact", where, te.Reason, te.Index)
	if te.Proven < te.Index {
		// Damage found in the entry itself, past the last checkpoint that
		// still matched: what lies between cannot be vouched for.
		msg = fmt.Sprintf("TAMPERED: first bad entry found: %s: %s; entries 0..%d are proven intact, entries %d..%d cannot be proven (no checkpoint after them could be checked)",
			where, te.Reason, int64(te.Proven)-1, te.Proven, te.Index-1)
	}
	if te.Checkpoint >= served {
		msg += "; the checkpoint that caught it is from " + heldFile
	}
	return msg
}

// deref is *p, or "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// lineReader splits a stream into lines as bufio.Scanner's ScanLines does
// (no newline, no carriage return before it, a last line without one,
// at most maxExportLine bytes), without a copy per line: it reads into
// blocks of exportBlock bytes, each a new buffer, and hands out slices of
// them, which stay valid after later calls. A line a block's end cuts is
// carried into the next block.
type lineReader struct {
	r     io.Reader
	block []byte // the current block; bytes from len(block) on are unread
	pos   int    // where the next line starts in block
	err   error  // the reader's error, once it gave one
}

const (
	exportBlock   = 1 << 20
	maxExportLine = 1 << 20
)

func (l *lineReader) next() ([]byte, error) {
	for {
		rest := l.block[l.pos:]
		if i := bytes.IndexByte(rest, '\n'); i >= 0 && i <= maxExportLine {
			l.pos += i + 1
			return dropCR(rest[:i:i]), nil
		}
		if len(rest) > maxExportLine {
			return nil, bufio.ErrTooLong
		}
		if l.err != nil {
			if len(rest) > 0 && l.err == io.EOF {
				l.pos = len(l.block)
				return dropCR(rest), nil
			}
			return nil, l.err
		}
		if len(l.block) == cap(l.block) {
			// Full: a new block, starting with the cut line.
			block := make([]byte, len(rest), max(exportBlock, 2*len(rest)))
			copy(block, rest)
			l.block, l.pos = block, 0
		}
		n, err := l.r.Read(l.block[len(l.block):cap(l.block)])
		l.block = l.block[:len(l.block)+n]
		if err != nil {
			l.err = err
		}
	}
}

func dropCR(line []byte) []byte {
	if len(line) > 0 && line[len(line)-1] == '\r' {
		return line[: len(line)-1 : len(line)-1]
	}
	return line
}
