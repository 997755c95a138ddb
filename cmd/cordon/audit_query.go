package main

import (
	"context"
	"encoding/json"
	"io"
	"net/url"
	"strconv"

	"github.com/cordon-dev/cordon/internal/adminclient"
)

// auditQuestion asks one of the investigator's questions: kind is
// "subject" (who touched the user value names), "category" (who touched
// the category value names) or "principals" (the principals the log
// knows). principals narrows any of them (names or '*' patterns); from and
// to bound the window (RFC 3339; empty: the whole log). The answer is
// printed as the server writes it, in format (text, json or csv).
func auditQuestion(ctx context.Context, c *adminclient.Client, kind, value string, principals []string, from, to, format string, stdout io.Writer) error {
	switch format {
	case "text", "json", "csv":
	default:
		return usageError("--format must be text, json or csv")
	}
	q := url.Values{"format": {format}}
	if len(principals) > 0 {
		q["principal"] = principals
	}
	switch kind {
	case "subject", "category":
		q.Set(kind, value)
	}
	if from != "" {
		q.Set("from", from)
	}
	if to != "" {
		q.Set("to", to)
	}
	resp, err := c.Open(ctx, "GET", "/admin/v1/audit/"+kind+"?"+q.Encode(), "application/json", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(stdout, resp.Body)
	return err
}

// auditReportQuestion is cordon audit report --subject USER or --category
// NAME (--principal then narrows it).
func auditReportQuestion(ctx context.Context, client func() *adminclient.Client, subject, category string, principals []string, from, to, format string, save bool, stdout io.Writer) error {
	switch {
	case subject != "" && category != "":
		return usageError("audit report takes --subject or --category, not both")
	case save:
		return usageError("--save keeps a report by --principal only: its users become a cohort")
	case subject != "":
		return auditQuestion(ctx, client(), "subject", subject, principals, from, to, format, stdout)
	}
	return auditQuestion(ctx, client(), "category", category, principals, from, to, format, stdout)
}

// auditCheckpointsPage prints one page of the checkpoint listing as the
// server answers it (JSON, with next_after when there may be more).
func auditCheckpointsPage(ctx context.Context, c *adminclient.Client, after uint64, limit int, stdout io.Writer) error {
	if limit < 1 || limit > 10_000 {
		return usageError("--limit must be 1 to 10000")
	}
	q := url.Values{"after": {strconv.FormatUint(after, 10)}, "limit": {strconv.Itoa(limit)}}
	var page checkpointFile
	if err := c.Do(ctx, "GET", "/audit/v1/checkpoints?"+q.Encode(), nil, &page); err != nil {
		return err
	}
	b, err := json.MarshalIndent(page, "", "  ")
	if err != nil {
		return err
	}
	_, err = stdout.Write(append(b, '\n'))
	return err
}
