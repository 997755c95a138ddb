package notice

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

func texts() Texts {
	return Texts{Default: "en", ByTag: map[string]Text{
		"en":    {Title: "Sign in again", Body: "We found that **one** account's data was read.\n\nPlease sign in again."},
		"de":    {Title: "Bitte neu anmelden", Body: "Wir haben festgestellt, dass Daten **eines** Kontos gelesen wurden."},
		"pt-BR": {Title: "Entre novamente", Body: "Descobrimos que os dados de uma conta foram lidos."},
	}}
}

func TestValidate(t *testing.T) {
	if err := texts().Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	tests := []struct {
		name  string
		mod   func(*Texts)
		field string
	}{
		{"no texts", func(x *Texts) { x.ByTag = nil }, "texts"},
		{"default missing", func(x *Texts) { x.Default = "fr" }, "default_language"},
		{"not a tag", func(x *Texts) { x.ByTag["english"] = Text{"a", "b"} }, "texts.english"},
		{"not canonical", func(x *Texts) { x.ByTag["pt-br"] = Text{"a", "b"} }, "texts.pt-br"},
		{"empty title", func(x *Texts) { x.ByTag["de"] = Text{" ", "b"} }, "texts.de.title"},
		{"empty body", func(x *Texts) { x.ByTag["de"] = Text{"a", ""} }, "texts.de.body"},
		{"two-line title", func(x *Texts) { x.ByTag["de"] = Text{"a\nb", "b"} }, "texts.de.title"},
		{"long body", func(x *Texts) { x.ByTag["de"] = Text{"a", strings.Repeat("x", MaxBody+1)} }, "texts.de.body"},
		{"invalid UTF-8", func(x *Texts) { x.ByTag["de"] = Text{"a", "\xff"} }, "texts.de"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := texts()
			tt.mod(&x)
			var p *Problem
			if err := x.Validate(); !errors.As(err, &p) || p.Field != tt.field {
				t.Fatalf("Validate: %v; want a problem with field %q", err, tt.field)
			}
		})
	}
}

func TestPick(t *testing.T) {
	tests := []struct{ pref, want string }{
		{"de-CH,de;q=0.9,en;q=0.5", "de"},
		{"de-AT", "de"},
		{"pt-BR", "pt-BR"},
		{"pt-PT", "pt-BR"},
		{"fr-FR,fr;q=0.9", "en"},
		{"", "en"},
		{"*", "en"},
		{"en-GB", "en"},
		{"\x00;;;q=bad", "en"},
		{strings.Repeat("de-,", 10000), "en"},
	}
	for _, tt := range tests {
		if got, tx := texts().Pick(tt.pref); got != tt.want || tx != texts().ByTag[tt.want] {
			t.Errorf("Pick(%.40q) = %s, want %s", tt.pref, got, tt.want)
		}
	}
}

// hostile is what a compromised or careless author could write.
var hostile = []string{
	"<script>alert(1)</script>",
	"[click](javascript:alert(1))",
	"[click](JaVaScRiPt:alert(1))",
	"![x](x onerror=alert(1))",
	"<img src=x onerror=alert(1)>",
	"<a href=\"data:text/html,<script>alert(1)</script>\">x</a>",
	"<iframe src=https://evil.example></iframe>",
	"<style>body{display:none}</style>",
	"[x](vbscript:msgbox(1))",
	"<svg onload=alert(1)>",
	"<details open ontoggle=alert(1)>",
	"`<script>` in code is text",
}

// live returns the first thing in an HTML fragment that could run or load
// something: an element other than text formatting and links, an event
// handler attribute, or a link to anything but http(s) and mailto. Text
// that merely reads "onerror" is inert and not reported.
func live(fragment string, allowStyle string) string {
	z := html.NewTokenizer(strings.NewReader(fragment))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return ""
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			switch tok.Data {
			case "script", "iframe", "object", "embed", "svg", "math", "img", "link", "meta", "base", "form", "input", "details":
				if tok.Data == "meta" && allowStyle != "" {
					break // the page's own charset and viewport
				}
				return "<" + tok.Data + ">"
			case "style":
				if allowStyle == "" {
					return "<style>"
				}
				z.Next()
				if string(z.Text()) != allowStyle {
					return "a foreign <style>"
				}
			}
			for _, a := range tok.Attr {
				k := strings.ToLower(a.Key)
				if strings.HasPrefix(k, "on") || k == "style" || k == "src" || k == "srcset" {
					return "attribute " + a.Key
				}
				if k == "href" && !regexp.MustCompile(`^(https?:|mailto:|#)`).MatchString(strings.ToLower(strings.TrimSpace(a.Val))) {
					return "href " + a.Val
				}
			}
		}
	}
}

func TestHTMLIsInert(t *testing.T) {
	for _, h := range hostile {
		out, err := HTML("Intro\n\n" + h)
		if err != nil {
			t.Fatal(err)
		}
		if m := live(string(out), ""); m != "" {
			t.Errorf("HTML(%q) kept %s: %s", h, m, out)
		}
	}
	out, _ := HTML("See [the FAQ](https://example.com/faq) and **act now**.")
	if !strings.Contains(string(out), `<a href="https://example.com/faq" rel="nofollow noreferrer">the FAQ</a>`) || !strings.Contains(string(out), "<strong>act now</strong>") {
		t.Errorf("ordinary Markdown lost its formatting: %s", out)
	}
}

func page(bodies ...string) Page {
	p := Page{URL: "https://status.example.com/incidents/2026-12"}
	for i, b := range bodies {
		x := texts()
		x.ByTag["en"] = Text{Title: "Update <" + b + ">", Body: b}
		p.Updates = append([]Update{{ID: "u" + string(rune('1'+i)), At: time.Date(2026, 12, 6, 9+i, 0, 0, 0, time.UTC), Texts: x}}, p.Updates...)
	}
	return p
}

func TestPageEscapesEverything(t *testing.T) {
	p := page(hostile...)
	var page bytes.Buffer
	if err := p.HTMLPage(&page, "en"); err != nil {
		t.Fatal(err)
	}
	atom, err := p.Atom("en")
	if err != nil {
		t.Fatal(err)
	}
	js, err := p.JSON("en")
	if err != nil {
		t.Fatal(err)
	}
	// The page itself: no live markup from any field.
	if m := live(page.String(), pageCSS); m != "" {
		t.Errorf("the page holds %s", m)
	}
	if strings.Contains(page.String(), "<script>alert") || !strings.Contains(page.String(), "&lt;script&gt;") {
		t.Errorf("titles are not escaped")
	}
	// The feed is well-formed XML whose content is the sanitised HTML.
	if err := xml.Unmarshal(atom, new(struct{ XMLName xml.Name })); err != nil {
		t.Errorf("the Atom feed is not XML: %v", err)
	}
	var feed struct {
		Entries []struct {
			Content string `xml:"content"`
		} `xml:"entry"`
	}
	xml.Unmarshal(atom, &feed)
	if len(feed.Entries) != len(hostile) {
		t.Fatalf("feed has %d entries, want %d", len(feed.Entries), len(hostile))
	}
	for _, e := range feed.Entries {
		if m := live(e.Content, ""); m != "" {
			t.Errorf("feed entry holds %s", m)
		}
	}
	var out struct {
		Updates []struct{ HTML, Markdown string }
	}
	if err := json.Unmarshal(js, &out); err != nil || len(out.Updates) != len(hostile) {
		t.Fatalf("JSON: %v, %d updates", err, len(out.Updates))
	}
	for _, u := range out.Updates {
		if m := live(u.HTML, ""); m != "" {
			t.Errorf("JSON html holds %s", m)
		}
	}
	if bytes.Contains(js, []byte("<script")) {
		t.Error("JSON holds a raw <script (HTML escaping off)")
	}
}

func TestPageLanguageAndOrder(t *testing.T) {
	p := page("first", "second")
	var b bytes.Buffer
	if err := p.HTMLPage(&b, "de-DE,de;q=0.9"); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	if !strings.Contains(s, `<html lang="de">`) || !strings.Contains(s, "Bitte neu anmelden") {
		t.Errorf("a German reader does not get German: %.300s", s)
	}
	if strings.Index(s, `id="u2"`) > strings.Index(s, `id="u1"`) {
		t.Error("the newest update is not first")
	}
	if err := (Page{}).HTMLPage(&b, "en"); err == nil {
		t.Error("an empty page rendered")
	}
}

func TestPageCSPAllowsExactlyItsStyle(t *testing.T) {
	var b bytes.Buffer
	if err := page("x").HTMLPage(&b, ""); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(b.String())
	if m == nil {
		t.Fatal("no style")
	}
	sum := sha256.Sum256([]byte(m[1]))
	if want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(PageCSP, want) {
		t.Errorf("PageCSP %q does not allow the page's style (%s)", PageCSP, want)
	}
	for _, d := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(PageCSP, d) {
			t.Errorf("PageCSP lacks %s", d)
		}
	}
	if strings.Contains(b.String(), "http://") || regexp.MustCompile(`src=|<link`).MatchString(b.String()) {
		t.Error("the page loads something")
	}
}

func FuzzHTML(f *testing.F) {
	for _, h := range hostile {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, body string) {
		out, err := HTML(body)
		if err != nil {
			return
		}
		if m := live(string(out), ""); m != "" {
			t.Fatalf("HTML(%q) kept %s: %s", body, m, out)
		}
	})
}
