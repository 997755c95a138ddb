package incident

import (
	"bytes"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// gfm renders as GitHub and most Markdown viewers do (tables, autolinks,
// strikethrough, task lists).
var gfm = goldmark.New(goldmark.WithExtensions(extension.GFM))

// rendersInert reports what an escaped cell turns into that it must not:
// a link, an image, code, raw HTML or a new cell.
func rendersInert(t *testing.T, cell string) {
	t.Helper()
	var out bytes.Buffer
	src := "| what |\n|---|\n| " + md(cell) + " |\n"
	if err := gfm.Convert([]byte(src), &out); err != nil {
		t.Fatal(err)
	}
	html := out.String()
	for _, bad := range []string{"<a ", "<img", "<code", "<script", "<td>" + "</td><td>"} {
		if strings.Contains(html, bad) {
			t.Fatalf("md(%q) renders %q:\n%s", cell, bad, html)
		}
	}
	if n := strings.Count(html, "<td>"); n != 1 {
		t.Fatalf("md(%q) renders %d cells, want 1:\n%s", cell, n, html)
	}
}

// TestMarkdownCellOpensNoAutolink: text an admin wrote (a note, a title, a
// token's name, a report's principal) opens no link in a timeline
// exported as Markdown, bare URLs and addresses included (GitHub's
// autolinks), and reads back as written.
func TestMarkdownCellOpensNoAutolink(t *testing.T) {
	for _, s := range []string{
		"see https://evil.example/login", "http://x.y", "ftp://files.example", "www.evil.example/reset", "WWW.Evil.Example",
		"mail dpo@evil.example", "mailto:dpo@evil.example", "xmpp:a@b.example", "[x](http://evil)", "![i](x)", "<https://evil>",
		"a | b", "`code`", "<b>bold</b>", "Note: plain text (kept as written).",
	} {
		rendersInert(t, s)
	}
}
