package campaigndoc

import (
	"errors"
	"testing"

	"github.com/cordon-dev/cordon/internal/cordon"
)

func TestParseNotice(t *testing.T) {
	d, err := ParseNotice([]byte("campaign: c-1\ncohort: {platforms: [ios], users_from_report: r-42}\ndefault_language: en\ntexts:\n  en: {title: T, body: B}\n  de: {title: Td, body: Bd}\n"), YAML)
	if err != nil {
		t.Fatal(err)
	}
	if d.Campaign != "c-1" || d.DefaultLanguage != "en" || len(d.Cohort.Platforms) != 1 || d.Cohort.UsersFromReport != "r-42" || d.Texts["de"] != (cordon.NoticeText{Title: "Td", Body: "Bd"}) {
		t.Errorf("got %+v", d)
	}
	tests := []struct {
		name, doc, field string
	}{
		{"unknown top-level field", `{"default_language":"en","texts":{"en":{"title":"t","body":"b"}},"kind":"reauth"}`, "kind"},
		{"a field in the wrong case", `{"Default_language":"en","texts":{"en":{"title":"t","body":"b"}}}`, "Default_language"},
		{"unknown cohort field", `{"cohort":{"platform":["ios"]},"default_language":"en","texts":{"en":{"title":"t","body":"b"}}}`, "cohort.platform"},
		{"unknown text field", `{"default_language":"en","texts":{"en":{"title":"t","body":"b","html":"x"}}}`, "texts.en.html"},
		{"a text field in the wrong case", `{"default_language":"en","texts":{"en":{"Title":"t","body":"b"}}}`, "texts.en.Title"},
		{"a text without a body", `{"default_language":"en","texts":{"en":{"title":"t"}}}`, "texts.en"},
		{"a repeated text field", `{"default_language":"en","texts":{"en":{"title":"t","title":"u","body":"b"}}}`, "texts.en.title"},
		{"a campaign that is no id", `{"campaign":"x; drop","default_language":"en","texts":{"en":{"title":"t","body":"b"}}}`, "campaign"},
		{"no texts", `{"default_language":"en"}`, "texts"},
		{"a cohort value refused", `{"cohort":{"versions":"< 1.0, > 2.0"},"default_language":"en","texts":{"en":{"title":"t","body":"b"}}}`, "cohort.versions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseNotice([]byte(tt.doc), JSON)
			var e *cordon.Error
			if !errors.As(err, &e) || e.Field != tt.field {
				t.Errorf("got %v (field %q), want a refusal of %q", err, fieldOf(err), tt.field)
			}
		})
	}
}

func fieldOf(err error) string {
	var e *cordon.Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// FuzzParseNotice: ParseNotice never panics, refuses only with a
// *cordon.Error of the document's codes, and what it accepts has a
// default language and texts.
func FuzzParseNotice(f *testing.F) {
	for _, s := range []string{
		`{"campaign":"c-1","cohort":{"platforms":["ios"]},"default_language":"en","texts":{"en":{"title":"t","body":"b"}}}`,
		"default_language: de\ntexts: {de: {title: \"Hallo\", body: \"**x**\"}}\n",
		`{"default_language":"en","texts":{"en":{"title":"t","body":"b","x":1}}}`,
		`{"texts":{"en":[]}}`,
		billionLaughs(),
	} {
		f.Add([]byte(s), s[0] != '{')
	}
	f.Fuzz(func(t *testing.T, data []byte, yaml bool) {
		format := JSON
		if yaml {
			format = YAML
		}
		d, err := ParseNotice(data, format)
		if err != nil {
			var e *cordon.Error
			if !errors.As(err, &e) {
				t.Fatalf("refusal is not a *cordon.Error: %v", err)
			}
			switch e.Code {
			case cordon.ECodeInvalid, cordon.ECodeUnprocessable, cordon.ECodeTooLarge:
			default:
				t.Fatalf("refusal with code %q: %v", e.Code, err)
			}
			return
		}
		if d.DefaultLanguage == "" && len(d.Texts) == 0 {
			t.Fatalf("accepted a notice without texts: %+v", d)
		}
	})
}
