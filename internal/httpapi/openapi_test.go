package httpapi

import (
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/internal/alert"
	"github.com/cordon-dev/cordon/internal/auditlog"
	"github.com/cordon-dev/cordon/internal/campaign"
	"github.com/cordon-dev/cordon/internal/incident"
	"github.com/cordon-dev/cordon/internal/notices"
	"github.com/cordon-dev/cordon/internal/ssf"
	"github.com/cordon-dev/cordon/schema"
	"github.com/getkin/kin-openapi/openapi3"
)

// loadOpenAPI loads the embedded description with kin-openapi and
// validates it as OpenAPI 3.1, the campaign schema it refers to resolved
// from the embedded copy rather than fetched.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	data, err := openapiJSON()
	if err != nil {
		t.Fatalf("the OpenAPI YAML does not convert to JSON: %v", err)
	}
	loader := openapi3.NewLoader()
	loader.ReadFromURIFunc = func(_ *openapi3.Loader, u *url.URL) ([]byte, error) {
		if u.Path == "/schema/campaign.json" {
			return schema.Campaign(), nil
		}
		t.Errorf("the description refers to %s, which is not in the repository", u)
		return nil, io.ErrUnexpectedEOF
	}
	doc, err := loader.LoadFromDataWithPath(data, &url.URL{Path: "/openapi.json"})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi %q, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the description is not valid OpenAPI: %v", err)
	}
	return doc
}

// registeredRoutes walks the routes a server with every optional part
// (campaigns, audit, feed) registers, as "METHOD /path" with OpenAPI's
// path templates ({path...} is {path}). The catch-all "/" is left out:
// it is the 404/405 the description's introduction states.
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	s := &Server{campaigns: new(campaign.Service), audit: new(auditlog.Service), incidents: new(incident.Service), notices: new(notices.Service), alerts: new(alert.Service), feed: http.NotFoundHandler(), ssf: new(ssf.Transmitter)}
	mux := &router{ServeMux: http.NewServeMux()}
	s.routes(mux)
	var out []string
	for _, p := range mux.patterns {
		if p == "/" {
			continue
		}
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			t.Errorf("route %q names no method; every route must", p)
			continue
		}
		out = append(out, method+" "+strings.ReplaceAll(path, "...}", "}"))
	}
	if len(out) < 50 {
		t.Fatalf("only %d routes registered; the walk is broken", len(out))
	}
	return out
}

func documented(doc *openapi3.T) []string {
	var out []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, method+" "+path)
		}
	}
	return out
}

// TestOpenAPIMatchesRoutes: every route the server registers is in the
// description, and the description has no route the server lacks.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	routes, docs := registeredRoutes(t), documented(doc)
	for _, r := range routes {
		if !slices.Contains(docs, r) {
			t.Errorf("%s is routed but not in openapi.yaml", r)
		}
	}
	for _, d := range docs {
		if !slices.Contains(routes, d) {
			t.Errorf("%s is in openapi.yaml but not routed", d)
		}
	}
	for _, must := range []string{"GET /openapi.json", "GET /schema/campaign.json", "GET /v1/gate/feed", "GET /.well-known/jwks.json"} {
		if !slices.Contains(routes, must) {
			t.Errorf("%s is not routed", must)
		}
	}
}

// TestOpenAPIErrorCodes: every code of the error table is listed with its
// status, in x-cordon-error-codes and in the Error schema's enum, and
// nothing else is.
func TestOpenAPIErrorCodes(t *testing.T) {
	doc := loadOpenAPI(t)
	raw, ok := doc.Extensions["x-cordon-error-codes"]
	if !ok {
		t.Fatal("no x-cordon-error-codes")
	}
	b, _ := json.Marshal(raw)
	var listed map[string]int
	if err := json.Unmarshal(b, &listed); err != nil {
		t.Fatalf("x-cordon-error-codes is not a map of code to status: %v", err)
	}
	errSchema := doc.Components.Schemas["Error"]
	if errSchema == nil || errSchema.Value.Properties["error"] == nil {
		t.Fatal("no Error schema with an error property")
	}
	var enum []string
	for _, v := range errSchema.Value.Properties["error"].Value.Enum {
		enum = append(enum, v.(string))
	}
	for code, status := range statuses {
		if got, ok := listed[code]; !ok {
			t.Errorf("error code %s (%d) is not in x-cordon-error-codes", code, status)
		} else if got != status {
			t.Errorf("error code %s: documented %d, answered %d", code, got, status)
		}
		if !slices.Contains(enum, code) {
			t.Errorf("error code %s is not in the Error schema's enum", code)
		}
	}
	for code := range listed {
		if _, ok := statuses[code]; !ok {
			t.Errorf("x-cordon-error-codes lists %s, which the server never answers", code)
		}
	}
	sort.Strings(enum)
	if len(enum) != len(statuses) {
		t.Errorf("the Error enum has %d codes, the table %d: %v", len(enum), len(statuses), enum)
	}
	// A code added to the domain but not to the status table would answer
	// 500 and go undocumented: every ECode constant must be in both.
	for name, code := range domainCodes(t) {
		if _, ok := statuses[code]; !ok {
			t.Errorf("cordon.%s (%q) has no status in the table", name, code)
		}
		if _, ok := listed[code]; !ok {
			t.Errorf("cordon.%s (%q) is not in x-cordon-error-codes", name, code)
		}
	}
}

// domainCodes reads the ECode constants of internal/cordon from its
// source, so a new one cannot be missed.
func domainCodes(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "cordon", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, id := range vs.Names {
				if !strings.HasPrefix(id.Name, "ECode") || i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					out[id.Name] = strings.Trim(lit.Value, "`\"")
				}
			}
			return true
		})
	}
	if len(out) < 15 {
		t.Fatalf("found %d ECode constants in internal/cordon; the search is broken", len(out))
	}
	return out
}

// TestOpenAPIServed: /openapi.json and /schema/campaign.json answer
// without a credential, as JSON.
func TestOpenAPIServed(t *testing.T) {
	s := New(Deps{})
	for _, tc := range []struct{ path, ctype, want string }{
		{"/openapi.json", "application/json", `"openapi":"3.1.0"`},
		{"/schema/campaign.json", "application/schema+json", `"$schema": "https://json-schema.org/draft/2020-12/schema"`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d, want 200: %s", rec.Code, rec.Body)
			}
			if got := rec.Header().Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type %q, want %q", got, tc.ctype)
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Errorf("the body is not JSON")
			}
			if !strings.Contains(rec.Body.String(), tc.want) {
				t.Errorf("the body does not hold %s", tc.want)
			}
		})
	}
}
