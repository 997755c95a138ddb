package httpapi

import (
	_ "embed"
	"net/http"

	"github.com/cordon-dev/cordon/schema"
	"sigs.k8s.io/yaml"
)

// openapiYAML is the OpenAPI 3.1 description of this package's routes,
// kept as YAML to be read and reviewed; TestOpenAPIMatchesRoutes holds it
// to the routes actually registered and to the error code table.
//
//go:embed openapi.yaml
var openapiYAML []byte

func openapiJSON() ([]byte, error) { return yaml.YAMLToJSON(openapiYAML) }

// router is a ServeMux that remembers each pattern it is given, so a test
// can walk the routes the server really has.
type router struct {
	*http.ServeMux
	patterns []string
}

func (m *router) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.HandleFunc(pattern, h)
}

func (m *router) Handle(pattern string, h http.Handler) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.Handle(pattern, h)
}

// Routes returns the patterns the server registered ("GET /v1/session"),
// the catch-all "/" among them.
func (s *Server) Routes() []string { return append([]string(nil), s.patterns...) }

// handleOpenAPI serves the description without auth: it holds no secret,
// and clients and editors fetch it before they have a token.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	if s.openapiErr != nil {
		writeError(w, r, s.openapiErr)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(s.openapi)
}

func handleCampaignSchema(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/schema+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(schema.Campaign())
}
