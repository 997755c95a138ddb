package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/cordon-dev/cordon/internal/adminclient"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

// importRecord mirrors authn.ImportRecord on the wire.
type importRecord struct {
	Username     string `json:"username"`
	Password     string `json:"password,omitempty"`
	PasswordHash string `json:"password_hash,omitempty"`
	Email        string `json:"email,omitempty"`
}

type importResult struct {
	Created  int `json:"created"`
	Existing int `json:"existing"`
	Invalid  int `json:"invalid"`
	Problems []struct {
		Index    int    `json:"index"`
		Username string `json:"username"`
		Error    string `json:"error"`
	} `json:"problems"`
}

// countingReader counts bytes read, for the progress bar.
type countingReader struct {
	r   io.Reader
	bar *progressbar.ProgressBar
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.bar.Add(n)
	return n, err
}

func userImportCmd(a *app) *cobra.Command {
	return leaf(&cobra.Command{
		Use:   "import FILE",
		Short: "Import accounts, with their password hashes, from another system",
		Long: `Import accounts from FILE: JSONL (one {"username", "password" or
"password_hash"} per line), a JSON array of those, CSV with a header row naming
username and password or password_hash, a Keycloak realm or users export, or a
Firebase auth:export file. bcrypt hashes are kept and replaced by argon2id at
the user's next login; existing usernames are left untouched. It shows a
progress bar and reports each bad line by number (exit 1 when any was bad).`,
		Example: `  cordon user import users.jsonl
  cordon user import realm-export.json --username-from email
  cordon user import users.json --firebase-params hash_config.txt
  cordon user import accounts.txt --format jsonl --batch 5000`,
		Args: oneArg("FILE (JSONL: one {\"username\",\"password\"|\"password_hash\"} per line; CSV: a header row naming username and password or password_hash; JSON: an array of those, or a Keycloak realm/users export, or a Firebase auth:export file)"),
	}, func(fs *flag.FlagSet) action {
		format := fs.String("format", "", "jsonl or csv (default: from the file's extension)")
		batch := fs.Int("batch", 1000, "accounts per request (at most 10000)")
		idp := addIDPFlags(fs)
		return func(ctx context.Context, pos []string) error {
			return runImport(ctx, a.client, pos, format, batch, idp, a.stdout, a.stderr)
		}
	})
}

func runImport(ctx context.Context, client func() *adminclient.Client, pos []string, format *string, batch *int, idp *idpFlags, stdout, stderr io.Writer) error {
	idpOpts, err := idp.options()
	if err != nil {
		return err
	}
	if *batch < 1 || *batch > 10000 {
		return usageError("--batch must be between 1 and 10000")
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if *format == "" {
		switch strings.ToLower(filepath.Ext(pos[0])) {
		case ".csv":
			*format = "csv"
		case ".jsonl", ".ndjson":
			*format = "jsonl"
		case ".json":
			*format = "json"
		default:
			return usageError("cannot tell the format of %s from its extension; pass --format jsonl or --format csv", pos[0])
		}
	}
	bar := progressbar.NewOptions64(st.Size(), progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("importing"),
		progressbar.OptionShowBytes(true), progressbar.OptionSetWidth(30), progressbar.OptionThrottle(200_000_000),
		progressbar.OptionClearOnFinish())
	in := &countingReader{r: f, bar: bar}
	var next func() (importRecord, int, error)
	unit := "line"
	switch *format {
	case "jsonl":
		next = jsonlReader(in)
	case "json":
		var export bool
		if next, export = jsonOrExport(in, idpOpts); export {
			unit = "user"
		}
	case "keycloak", "firebase":
		next, unit = exportReader(in, idpOpts), "user"
	case "csv":
		next, err = csvReader(in)
		if err != nil {
			return err
		}
	default:
		return usageError("--format must be jsonl, json (an array), csv, keycloak or firebase")
	}

	c := client()
	var total importResult
	skipped := 0
	var problems []string
	recs := make([]importRecord, 0, *batch)
	lines := make([]int, 0, *batch)
	flush := func() error {
		if len(recs) == 0 {
			return nil
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		for _, r := range recs {
			enc.Encode(r)
		}
		var res importResult
		if err := c.DoRaw(ctx, "POST", "/admin/v1/accounts/import", "application/x-ndjson", &buf, &res); err != nil {
			return fmt.Errorf("batch from line %d: %w", lines[0], err)
		}
		total.Created += res.Created
		total.Existing += res.Existing
		total.Invalid += res.Invalid
		for _, p := range res.Problems {
			line := 0
			if p.Index >= 0 && p.Index < len(lines) {
				line = lines[p.Index]
			}
			problems = append(problems, fmt.Sprintf("%s %d (%s): %s", unit, line, p.Username, p.Error))
		}
		recs, lines = recs[:0], lines[:0]
		return nil
	}
	for {
		r, line, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		var fatal *fatalReadError
		if errors.As(err, &fatal) {
			return fatal.err
		}
		var skip *skippedRecord
		if errors.As(err, &skip) {
			skipped++
			problems = append(problems, skip.Error())
			continue
		}
		if err != nil {
			total.Invalid++
			problems = append(problems, err.Error())
			continue
		}
		recs = append(recs, r)
		lines = append(lines, line)
		if len(recs) == *batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	bar.Finish()
	for _, p := range problems {
		fmt.Fprintln(stderr, p)
	}
	fmt.Fprintf(stdout, "imported %d account(s); %d existed already; %d invalid", total.Created, total.Existing, total.Invalid)
	if skipped > 0 {
		fmt.Fprintf(stdout, "; %d without a password skipped", skipped)
	}
	fmt.Fprintln(stdout)
	if total.Invalid > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d record(s) were not imported", total.Invalid)}
	}
	return nil
}

// jsonlReader yields one record per non-empty line.
func jsonlReader(r io.Reader) func() (importRecord, int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	line := 0
	return func() (importRecord, int, error) {
		for sc.Scan() {
			line++
			b := bytes.TrimSpace(sc.Bytes())
			if len(b) == 0 {
				continue
			}
			var rec importRecord
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&rec); err != nil {
				return rec, line, fmt.Errorf("line %d: not a JSON account record: %v", line, err)
			}
			return rec, line, nil
		}
		if err := sc.Err(); err != nil {
			// A scanner that failed stays failed: stop the import here.
			return importRecord{}, line, &fatalReadError{fmt.Errorf("line %d: %w (a line may hold at most 64 KiB)", line+1, err)}
		}
		return importRecord{}, line, io.EOF
	}
}

// csvReader reads a header row naming the columns, then one record a row.
func csvReader(r io.Reader) (func() (importRecord, int, error), error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("CSV header: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff") // the byte-order mark spreadsheets write
		}
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	if _, ok := col["username"]; !ok {
		return nil, errors.New("CSV header must name a username column (and password or password_hash)")
	}
	get := func(row []string, name string) string {
		if i, ok := col[name]; ok && i < len(row) {
			return row[i]
		}
		return ""
	}
	return func() (importRecord, int, error) {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return importRecord{}, 0, io.EOF
		}
		if err != nil {
			// csv.ParseError names the line; FieldPos is only valid after a
			// successful Read.
			return importRecord{}, 0, err
		}
		line, _ := cr.FieldPos(0)
		return importRecord{Username: get(row, "username"), Password: get(row, "password"), PasswordHash: get(row, "password_hash")}, line, nil
	}, nil
}

// fatalReadError ends an import: the input cannot be read further.
type fatalReadError struct{ err error }

func (e *fatalReadError) Error() string { return e.err.Error() }

// jsonArrayReader yields the records of one JSON array, streaming.
func jsonArrayReader(r io.Reader) func() (importRecord, int, error) {
	dec := json.NewDecoder(r)
	i, started := 0, false
	return func() (importRecord, int, error) {
		if !started {
			started = true
			if t, err := dec.Token(); err != nil || t != json.Delim('[') {
				return importRecord{}, 0, &fatalReadError{errors.New("a .json file must hold one JSON array of account records (or use .jsonl)")}
			}
		}
		if !dec.More() {
			return importRecord{}, i, io.EOF
		}
		i++
		var rec importRecord
		if err := dec.Decode(&rec); err != nil {
			return rec, i, &fatalReadError{fmt.Errorf("record %d: %v", i, err)}
		}
		return rec, i, nil
	}
}
