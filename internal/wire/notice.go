package wire

import (
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cordon-dev/cordon/internal/decision"
	"golang.org/x/text/language"
)

// NoticeHeader is the optional response header of a campaign denial whose
// campaign a published notice explains: an RFC 8941 dictionary naming the
// notice, the language of its title and the title itself, RFC 8187
// encoded (UTF-8, percent-encoded), so the value is ASCII without CR or
// LF whatever the team wrote:
//
//	Cordon-Notice: id="n-…", lang="de", title*="UTF-8'de'F%C3%BCr%20Ihre%20Sicherheit"
//
// The app fetches the whole notice at GET /v1/notices.
const NoticeHeader = "Cordon-Notice"

// DenialNotice is a published notice that explains a campaign, as the
// server and the gate need it to answer that campaign's denials.
type DenialNotice struct {
	ID       string `json:"id"`
	Campaign string `json:"campaign"`
	// Default is the language shown when none of the reader's is written.
	Default string `json:"default_language"`
	// Titles are the notice's titles by BCP 47 tag.
	Titles map[string]string `json:"titles"`
}

// Notices answers which notice header a denial carries. Build it once per
// change (CompileNotices); Header is read on every denial and only looks
// up precomputed values. Safe for concurrent use; a nil *Notices holds
// none.
type Notices struct {
	byCampaign map[string]*compiledNotice
}

type compiledNotice struct {
	matcher language.Matcher
	// memo maps Accept-Language values seen to their index in values:
	// a fleet sends few distinct ones, and matching one costs a parse and
	// a dozen allocations that a denial should not pay each time. Bounded
	// by maxMemo; past it, values are matched afresh.
	memo  sync.Map
	nmemo atomic.Int32
	// values are the header values by the matcher's index; values[0] is
	// the default language's.
	values []string
}

// CompileNotices prepares the denial notices, given oldest published
// first: of two notices explaining one campaign the later in ns (the
// newer) wins. A notice whose default language has no title, or whose id
// could not stand in a header, is left out.
func CompileNotices(ns []DenialNotice) *Notices {
	out := &Notices{byCampaign: map[string]*compiledNotice{}}
	for _, n := range ns {
		if _, ok := n.Titles[n.Default]; !ok || n.Campaign == "" || !safeID(n.ID) {
			continue
		}
		tags := []string{n.Default}
		for tag := range n.Titles {
			if tag != n.Default {
				tags = append(tags, tag)
			}
		}
		sort.Strings(tags[1:])
		c := &compiledNotice{}
		supported := make([]language.Tag, len(tags))
		for i, tag := range tags {
			supported[i] = language.Make(tag)
			c.values = append(c.values, headerValue(n.ID, tag, n.Titles[tag]))
		}
		c.matcher = language.NewMatcher(supported)
		out.byCampaign[n.Campaign] = c
	}
	return out
}

// Len is the number of campaigns with a notice.
func (n *Notices) Len() int {
	if n == nil {
		return 0
	}
	return len(n.byCampaign)
}

// Header returns the Cordon-Notice value for a denial by campaign, in
// the best language of acceptLanguage (the default when none matches or
// the header does not parse), or "" when no notice explains it.
func (n *Notices) Header(campaign, acceptLanguage string) string {
	if n == nil || campaign == "" {
		return ""
	}
	c := n.byCampaign[campaign]
	if c == nil {
		return ""
	}
	if acceptLanguage == "" || len(c.values) == 1 {
		return c.values[0]
	}
	if i, ok := c.memo.Load(acceptLanguage); ok {
		return c.values[i.(int)]
	}
	i := c.match(acceptLanguage)
	if len(acceptLanguage) <= maxMemoKey && c.nmemo.Add(1) <= maxMemo {
		c.memo.Store(acceptLanguage, i)
	}
	return c.values[i]
}

// Bounds of a notice's memo of Accept-Language values.
const (
	maxMemo    = 1024
	maxMemoKey = 256
)

// match returns the index of the best value for acceptLanguage: the
// default (0) when none matches or it does not parse.
func (c *compiledNotice) match(acceptLanguage string) int {
	want, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(want) == 0 {
		return 0
	}
	_, i, conf := c.matcher.Match(want...)
	if conf == language.No || i >= len(c.values) {
		return 0
	}
	return i
}

// headerValue writes one notice's header in one language.
func headerValue(id, tag, title string) string {
	var b strings.Builder
	b.WriteString(`id="`)
	b.WriteString(id)
	b.WriteString(`", lang="`)
	b.WriteString(attrChars(tag))
	b.WriteString(`", title*="UTF-8'`)
	b.WriteString(attrChars(tag))
	b.WriteString(`'`)
	b.WriteString(attrChars(title))
	b.WriteString(`"`)
	return b.String()
}

// attrChars percent-encodes s as RFC 8187's value-chars: every byte but
// ALPHA, DIGIT and !#$&+-.^_`|~ as %XX, so nothing of s can end the
// string, the header or the line it is in.
func attrChars(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("!#$&+-.^_`|~", c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// safeID reports whether a notice id may go into a header as it is.
func safeID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c == '-' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// SetNotice adds the Cordon-Notice header to the denial d when a notice
// explains its campaign; call it before WriteDenied.
func SetNotice(w http.ResponseWriter, n *Notices, d *decision.Decision, acceptLanguage string) {
	if v := n.Header(d.Campaign, acceptLanguage); v != "" {
		w.Header().Set(NoticeHeader, v)
	}
}
