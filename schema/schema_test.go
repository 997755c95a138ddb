package schema_test

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/internal/campaigndoc"
	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/schema"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

// compile compiles the embedded schema against the draft 2020-12
// metaschema, with formats (date-time) asserted as the server does.
func compile(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema.Campaign()))
	if err != nil {
		t.Fatalf("the schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(schema.ID, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(schema.ID)
	if err != nil {
		t.Fatalf("the schema does not compile: %v", err)
	}
	return sch
}

// instance reads a JSON or YAML document as the schema validator sees it.
func instance(t *testing.T, doc string) any {
	t.Helper()
	data := []byte(doc)
	if t := strings.TrimSpace(doc); !strings.HasPrefix(t, "{") {
		var err error
		if data, err = yaml.YAMLToJSON(data); err != nil {
			return nil
		}
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil
	}
	return v
}

func format(doc string) string {
	if strings.HasPrefix(strings.TrimSpace(doc), "{") {
		return campaigndoc.JSON
	}
	return campaigndoc.YAML
}

// examples gathers every campaign document the repository shows: the
// README's YAML and JSON blocks that hold a kind, the golden documents of
// campaigndoc, and the documents of its runnable examples.
func examples(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)```(yaml|json)\n(.*?)```")
	for i, m := range block.FindAllStringSubmatch(string(readme), -1) {
		if strings.Contains(m[2], "kind") {
			out["README block "+strconv.Itoa(i+1)] = m[2]
		}
	}
	golden, err := filepath.Glob(filepath.Join("..", "internal", "campaigndoc", "testdata", "*.golden"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range golden {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = string(b)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join("..", "internal", "campaigndoc", "example_test.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if s, err := strconv.Unquote(lit.Value); err == nil && strings.Contains(s, "kind") {
				out["example_test.go:"+strconv.Itoa(fset.Position(lit.Pos()).Line)] = s
			}
		}
		return true
	})
	if len(out) < 4 {
		t.Fatalf("found only %d example documents; the search is broken", len(out))
	}
	return out
}

// TestExamplesValidate: every document the repository shows that the
// server accepts, the schema accepts too, so an editor never flags a
// working document.
func TestExamplesValidate(t *testing.T) {
	sch := compile(t)
	accepted := 0
	for name, doc := range examples(t) {
		t.Run(name, func(t *testing.T) {
			if _, err := campaigndoc.Parse([]byte(doc), format(doc)); err != nil {
				t.Skipf("campaigndoc refuses it (an example of a refusal): %v", err)
			}
			accepted++
			if err := sch.Validate(instance(t, doc)); err != nil {
				t.Errorf("campaigndoc accepts it, the schema refuses it:\n%v\n%s", err, doc)
			}
		})
	}
	if accepted < 3 {
		t.Errorf("only %d examples accepted; want the README's, the golden and the examples'", accepted)
	}
}

// TestStructuralRefusals: a document campaigndoc refuses for its shape
// (an unknown or missing field, a wrong type, a value outside a fixed
// list, an empty list) is refused by the schema too. Refusals the schema
// cannot express (an unsatisfiable version constraint, a duplicated key,
// a user that does not exist) are the server's alone.
func TestStructuralRefusals(t *testing.T) {
	sch := compile(t)
	const ramp = `"ramp":{"start":"2026-05-27T08:00:00Z","duration":"72h"}`
	const upgrade = `"upgrade":{"min_version":"8.5.0","mode":"immediate","urls":{"official":"https://m.example.com/download"}}`
	for _, tc := range []struct{ name, doc string }{
		{"not an object", `["reauth"]`},
		{"no kind", `{"name":"x"}`},
		{"unknown kind", `{"kind":"logout","name":"x"}`},
		{"upper-case kind", `{"kind":"Reauth","name":"x"}`},
		{"no name", `{"kind":"reauth"}`},
		{"blank name", `{"kind":"reauth","name":"  "}`},
		{"unknown field", `{"kind":"reauth","name":"x","cohrt":{}}`},
		{"upper-case field", `{"kind":"reauth","Name":"x"}`},
		{"unknown cohort field", `{"kind":"reauth","name":"x","cohort":{"platform":["ios"]}}`},
		{"name a number", `{"kind":"reauth","name":5}`},
		{"platforms a string", `{"kind":"reauth","name":"x","cohort":{"platforms":"ios"}}`},
		{"empty platforms", `{"kind":"reauth","name":"x","cohort":{"platforms":[]}}`},
		{"unknown platform", `{"kind":"reauth","name":"x","cohort":{"platforms":["symbian"]}}`},
		{"platform twice", `{"kind":"reauth","name":"x","cohort":{"platforms":["ios","ios"]}}`},
		{"empty sources", `{"kind":"reauth","name":"x","cohort":{"sources":[]}}`},
		{"unknown source", `{"kind":"reauth","name":"x","cohort":{"sources":["fdroid"]}}`},
		{"empty versions", `{"kind":"reauth","name":"x","cohort":{"versions":""}}`},
		{"empty users", `{"kind":"reauth","name":"x","cohort":{"users":[]}}`},
		{"empty user", `{"kind":"reauth","name":"x","cohort":{"users":[""]}}`},
		{"bad report id", `{"kind":"reauth","name":"x","cohort":{"users_from_report":"42"}}`},
		{"bad authenticated_before", `{"kind":"reauth","name":"x","cohort":{"authenticated_before":"yesterday"}}`},
		{"ramp without start", `{"kind":"reauth","name":"x","ramp":{"duration":"72h"}}`},
		{"ramp without duration", `{"kind":"reauth","name":"x","ramp":{"start":"2026-05-27T08:00:00Z"}}`},
		{"ramp start not a time", `{"kind":"reauth","name":"x","ramp":{"start":"soon","duration":"72h"}}`},
		{"negative duration", `{"kind":"reauth","name":"x","ramp":{"start":"2026-05-27T08:00:00Z","duration":"-5h"}}`},
		{"zero seconds", `{"kind":"reauth","name":"x","ramp":{"start":"2026-05-27T08:00:00Z","duration":0}}`},
		{"fractional seconds", `{"kind":"reauth","name":"x","ramp":{"start":"2026-05-27T08:00:00Z","duration":1.5}}`},
		{"words for a duration", `{"kind":"reauth","name":"x","ramp":{"start":"2026-05-27T08:00:00Z","duration":"three days"}}`},
		{"unknown ramp field", `{"kind":"reauth","name":"x",` + ramp[:len(ramp)-1] + `,"end":"x"}}`},
		{"a pace from the client", `{"kind":"reauth","name":"x","ramp":{"start":"2026-05-27T08:00:00Z","mode":"auto","max_duration":"72h","pace":{"points":[],"rate":1}}}`},
		{"unknown ramp mode", `{"kind":"reauth","name":"x","ramp":{"start":"2026-05-27T08:00:00Z","mode":"turbo","duration":"72h"}}`},
		{"auto without max_duration", `{"kind":"reauth","name":"x","ramp":{"start":"2026-05-27T08:00:00Z","mode":"auto"}}`},
		{"auto with a duration", `{"kind":"reauth","name":"x","ramp":{"start":"2026-05-27T08:00:00Z","mode":"auto","max_duration":"72h","duration":"1h"}}`},
		{"fixed with max_duration", `{"kind":"reauth","name":"x","ramp":{"start":"2026-05-27T08:00:00Z","duration":"1h","max_duration":"72h"}}`},
		{"fixed with a target", `{"kind":"reauth","name":"x","ramp":{"start":"2026-05-27T08:00:00Z","duration":"1h","target_utilisation":0.5}}`},
		{"target above one", `{"kind":"reauth","name":"x","ramp":{"start":"2026-05-27T08:00:00Z","mode":"auto","max_duration":"72h","target_utilisation":1.5}}`},
		{"target zero", `{"kind":"reauth","name":"x","ramp":{"start":"2026-05-27T08:00:00Z","mode":"auto","max_duration":"72h","target_utilisation":0}}`},
		{"max_duration words", `{"kind":"reauth","name":"x","ramp":{"start":"2026-05-27T08:00:00Z","mode":"auto","max_duration":"three days"}}`},
		{"upgrade without block", `{"kind":"upgrade","name":"x"}`},
		{"verify on a reauth", `{"kind":"reauth","name":"x","verify":"email"}`},
		{"verify unknown", `{"kind":"password_reset","name":"x","verify":"sms","cohort":{"users":["alice"]}}`},
		{"verify email without users", `{"kind":"password_reset","name":"x","verify":"email","cohort":{"platforms":["ios"]}}`},
		{"verify email without cohort", `{"kind":"password_reset","name":"x","verify":"email"}`},
		{"verify email with a ramp", `{"kind":"password_reset","name":"x","verify":"email","cohort":{"users":["alice"]},` + ramp + `}`},
		{"block on reauth", `{"kind":"reauth","name":"x",` + upgrade + `}`},
		{"no mode", `{"kind":"upgrade","name":"x","upgrade":{"min_version":"8.5.0","urls":{"official":"https://m.example.com/d"}}}`},
		{"unknown mode", `{"kind":"upgrade","name":"x","upgrade":{"min_version":"8.5.0","mode":"later","urls":{"official":"https://m.example.com/d"}}}`},
		{"min_version not a version", `{"kind":"upgrade","name":"x","upgrade":{"min_version":"v8","mode":"immediate","urls":{"official":"https://m.example.com/d"}}}`},
		{"no official url", `{"kind":"upgrade","name":"x","upgrade":{"min_version":"8.5.0","mode":"immediate","urls":{"play":"https://play.google.com/x"}}}`},
		{"url for web", `{"kind":"upgrade","name":"x","upgrade":{"min_version":"8.5.0","mode":"immediate","urls":{"official":"https://m.example.com/d","web":"https://x.example"}}}`},
		{"ftp url", `{"kind":"upgrade","name":"x","upgrade":{"min_version":"8.5.0","mode":"immediate","urls":{"official":"ftp://m.example.com/d"}}}`},
		{"after without campaign", `{"kind":"offline_rekey","name":"x","after":{"satisfied":true}}`},
		{"after not an id", `{"kind":"offline_rekey","name":"x","after":{"campaign":"upgrade-1"}}`},
		{"after unknown field", `{"kind":"offline_rekey","name":"x","after":{"campaign":"c-1","when":"now"}}`},
		{"after satisfied a string", `{"kind":"offline_rekey","name":"x","after":{"campaign":"c-1","satisfied":"yes"}}`},
		{"after unknown per", `{"kind":"offline_rekey","name":"x","after":{"campaign":"c-1","per":"device"}}`},
		{"after admission per install", `{"kind":"offline_rekey","name":"x","after":{"campaign":"c-1","satisfied":false,"per":"install"}}`},
		{"long message", `{"kind":"reauth","name":"x","message":"` + strings.Repeat("m", 2001) + `"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := campaigndoc.Parse([]byte(tc.doc), campaigndoc.JSON)
			if err == nil {
				t.Fatalf("campaigndoc accepts %s; the case is wrong", tc.doc)
			}
			if code := cordon.ErrorCode(err); code != cordon.ECodeInvalid && code != cordon.ECodeUnprocessable {
				t.Fatalf("campaigndoc refuses with %s, not a document error", code)
			}
			if v := instance(t, tc.doc); v != nil && sch.Validate(v) == nil {
				t.Errorf("campaigndoc refuses it (%v), the schema accepts it", err)
			}
		})
	}
}

// TestDurationForms: every form campaigndoc reads for ramp.duration, the
// schema reads too, including the "72h0m0s" Go prints.
func TestDurationForms(t *testing.T) {
	sch := compile(t)
	for _, d := range []string{`"72h"`, `"72h0m0s"`, `"90m"`, `"1.5h"`, `"3d"`, `"1d12h"`, `259200`} {
		doc := `{"kind":"reauth","name":"x","ramp":{"start":"2026-05-27T08:00:00Z","duration":` + d + `}}`
		auto := `{"kind":"reauth","name":"x","ramp":{"start":"2026-05-27T08:00:00Z","mode":"auto","target_utilisation":0.7,"max_duration":` + d + `}}`
		if _, err := campaigndoc.Parse([]byte(auto), campaigndoc.JSON); err != nil {
			t.Fatalf("campaigndoc refuses max_duration %s: %v", d, err)
		}
		if err := sch.Validate(instance(t, auto)); err != nil {
			t.Errorf("the schema refuses max_duration %s: %v", d, err)
		}
		if _, err := campaigndoc.Parse([]byte(doc), campaigndoc.JSON); err != nil {
			t.Fatalf("campaigndoc refuses duration %s: %v", d, err)
		}
		if err := sch.Validate(instance(t, doc)); err != nil {
			t.Errorf("the schema refuses duration %s: %v", d, err)
		}
	}
}

func TestSchemaID(t *testing.T) {
	var s struct {
		Schema string `json:"$schema"`
		ID     string `json:"$id"`
	}
	if err := json.Unmarshal(schema.Campaign(), &s); err != nil {
		t.Fatal(err)
	}
	if s.Schema != "https://json-schema.org/draft/2020-12/schema" || s.ID != schema.ID {
		t.Errorf("$schema %q, $id %q", s.Schema, s.ID)
	}
}
