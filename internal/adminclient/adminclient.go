// Package adminclient is the cordon CLI's client for the admin API: it
// finds the server (--server, CORDON_SERVER, default
// http://127.0.0.1:8080), authenticates with CORDON_ADMIN_TOKEN, and turns
// the API's JSON errors back into Go errors a person can read.
package adminclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// DefaultServer is where the CLI looks when neither --server nor
// CORDON_SERVER says otherwise.
const DefaultServer = "http://127.0.0.1:8080"

// Client calls one cordon server's admin API.
type Client struct {
	Server string
	Token  string
	HTTP   *http.Client
}

// New returns a client for server with an admin token.
func New(server, token string) *Client {
	if server == "" {
		server = DefaultServer
	}
	return &Client{Server: strings.TrimRight(server, "/"), Token: token, HTTP: &http.Client{Timeout: 5 * time.Minute}}
}

// APIError is an error answer of the API.
type APIError struct {
	Status  int
	Code    string `json:"error"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

func (e *APIError) Error() string {
	if e.Status >= 500 {
		// A server error is the server's, not the request's: say so, so no
		// one mistakes it for a bad request or an unreachable server.
		code := e.Code
		if code == "" {
			code = http.StatusText(e.Status)
		}
		if e.Message == "" {
			return fmt.Sprintf("the server answered %d %s", e.Status, code)
		}
		return fmt.Sprintf("the server answered %d %s: %s", e.Status, code, e.Message)
	}
	if e.Message == "" {
		return fmt.Sprintf("server answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("%s (%s, HTTP %d)", e.Message, e.Code, e.Status)
}

// Do sends a request with a JSON body (when body is not nil) and decodes a
// JSON answer into out (when out is not nil).
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	return c.DoRaw(ctx, method, path, "application/json", rd, out)
}

// DoRaw sends a request with a body of the given content type.
func (c *Client) DoRaw(ctx context.Context, method, path, contentType string, body io.Reader, out any) error {
	resp, err := c.Open(ctx, method, path, contentType, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("unexpected answer from %s: %w", c.Server, err)
		}
	}
	return nil
}

// Open sends a request and returns the answer with its body unread, for
// answers too large to hold (an export) or not JSON (a CSV report); the
// caller closes the body. An error answer is returned as an *APIError.
func (c *Client) Open(ctx context.Context, method, path, contentType string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.Server+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			// Connected, sent, and the server hung up: its fault, not the
			// network's (its log says why).
			return nil, fmt.Errorf("cordon at %s closed the connection without an answer (a server error; see its log): %w", c.Server, err)
		}
		return nil, fmt.Errorf("cannot reach cordon at %s (set --server or CORDON_SERVER): %w", c.Server, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		e := &APIError{Status: resp.StatusCode}
		json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(e)
		if resp.StatusCode == http.StatusUnauthorized && c.Token == "" {
			e.Message = "no admin token: set CORDON_ADMIN_TOKEN"
		}
		return nil, e
	}
	return resp, nil
}
