package httpapi_test

import (
	"net/http"
	"sync"
	"testing"
)

// FuzzGateReports posts arbitrary bodies to POST /v1/gate/reports: each
// is answered 200 with what was accepted and refused, or a 4xx with a
// code; never a 5xx, never a panic.
func FuzzGateReports(f *testing.F) {
	for _, s := range []string{
		`{"reports":[]}`, `{"reports":[{"campaign":"c_1","session":"s_1","outcome":"denied"}],"dropped":3}`,
		`{"reports":[{"campaign":"","session":"","outcome":"prompted"}]}`, `{"reports":null}`, `{"reports":[{}]}`,
		`{"reports":[{"campaign":"c","session":"s","outcome":"satisfied","x":1}]}`, `[]`, ``, `{"dropped":-1,"reports":[]}`,
		`{"reports":[],"reports":[]}`,
	} {
		f.Add([]byte(s))
	}
	var (
		once sync.Once
		e    *env
	)
	f.Fuzz(func(t *testing.T, body []byte) {
		once.Do(func() { e = newEnv(t) })
		res, out := e.do(t, "POST", "/v1/gate/reports", "application/json", string(body), "root")
		switch res.StatusCode {
		case http.StatusOK:
			if _, ok := out["accepted"].(float64); !ok {
				t.Fatalf("200 without accepted: %v", out)
			}
			if _, ok := out["refused"].([]any); !ok {
				t.Fatalf("200 without refused: %v", out)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if code, _ := out["error"].(string); code == "" {
				t.Fatalf("%d without an error code: %v", res.StatusCode, out)
			}
		default:
			t.Fatalf("answered %d: %v", res.StatusCode, out)
		}
	})
}
