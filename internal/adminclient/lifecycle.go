package adminclient

import (
	"context"
	"net/url"
	"strconv"
	"time"
)

// Token is an admin token as the API lists it (never its secret).
type Token struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Scopes     []string   `json:"scopes"`
	State      string     `json:"state"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	ReplacedBy string     `json:"replaced_by"`
}

// NewToken is a token just made, with its secret (shown once).
type NewToken struct {
	Token
	Secret   string `json:"token"`
	Replaced *Token `json:"replaced"`
}

// Expiry says when a token ends: at an RFC 3339 time, or after a time to
// live ("90d"); both empty means never, or no change.
type Expiry struct {
	ExpiresAt string `json:"expires_at,omitempty"`
	TTL       string `json:"ttl,omitempty"`
}

// Tokens lists every admin token, oldest first.
func (c *Client) Tokens(ctx context.Context) ([]Token, error) {
	var out struct {
		Tokens []Token `json:"tokens"`
	}
	err := c.Do(ctx, "GET", "/admin/v1/tokens", nil, &out)
	return out.Tokens, err
}

// TokenInfo shows one token by id or name.
func (c *Client) TokenInfo(ctx context.Context, ref string) (*Token, error) {
	var out Token
	if err := c.Do(ctx, "GET", "/admin/v1/tokens/"+url.PathEscape(ref), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateToken mints a token with scopes the caller holds.
func (c *Client) CreateToken(ctx context.Context, name string, scopes []string, e Expiry) (*NewToken, error) {
	var out NewToken
	body := map[string]any{"name": name, "scopes": scopes}
	if e.ExpiresAt != "" {
		body["expires_at"] = e.ExpiresAt
	}
	if e.TTL != "" {
		body["ttl"] = e.TTL
	}
	if err := c.Do(ctx, "POST", "/admin/v1/tokens", body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeToken revokes a token by id or name.
func (c *Client) RevokeToken(ctx context.Context, ref string) (*Token, error) {
	var out Token
	if err := c.Do(ctx, "POST", "/admin/v1/tokens/"+url.PathEscape(ref)+"/revoke", map[string]any{}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RotateToken gives a token a new secret; the old one works for grace
// ("" for not at all).
func (c *Client) RotateToken(ctx context.Context, ref, grace string, e Expiry) (*NewToken, error) {
	var out NewToken
	body := map[string]any{}
	if grace != "" {
		body["grace"] = grace
	}
	if e.ExpiresAt != "" {
		body["expires_at"] = e.ExpiresAt
	}
	if e.TTL != "" {
		body["ttl"] = e.TTL
	}
	if err := c.Do(ctx, "POST", "/admin/v1/tokens/"+url.PathEscape(ref)+"/rotate", body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetTokenExpiry sets when a token ends; an empty Expiry means never.
func (c *Client) SetTokenExpiry(ctx context.Context, ref string, e Expiry) (*Token, error) {
	var out Token
	body := map[string]any{}
	switch {
	case e.ExpiresAt != "":
		body["expires_at"] = e.ExpiresAt
	case e.TTL != "":
		body["ttl"] = e.TTL
	default:
		body["never"] = true
	}
	if err := c.Do(ctx, "POST", "/admin/v1/tokens/"+url.PathEscape(ref)+"/expiry", body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Account is an account as the admin API shows it.
type Account struct {
	ID                string     `json:"id"`
	Username          string     `json:"username"`
	CreatedAt         time.Time  `json:"created_at"`
	PasswordChangedAt time.Time  `json:"password_changed_at"`
	LockedAt          *time.Time `json:"locked_at"`
}

// AccountPage is one page of the account listing.
type AccountPage struct {
	Accounts []Account `json:"accounts"`
	// NextCursor fetches the next page; empty on the last.
	NextCursor string `json:"next_cursor"`
}

// AccountFilter selects accounts: a username prefix, a lock state
// ("true", "false" or "" for any), a page size (0: the server's default)
// and the cursor of the page.
type AccountFilter struct {
	Prefix, Locked, Cursor string
	Limit                  int
}

// Accounts fetches one page of accounts.
func (c *Client) Accounts(ctx context.Context, f AccountFilter) (*AccountPage, error) {
	q := url.Values{}
	if f.Prefix != "" {
		q.Set("prefix", f.Prefix)
	}
	if f.Locked != "" {
		q.Set("locked", f.Locked)
	}
	if f.Cursor != "" {
		q.Set("cursor", f.Cursor)
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	path := "/admin/v1/accounts"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out AccountPage
	if err := c.Do(ctx, "GET", path, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// LockAccount locks an account by id or username and returns the
// sessions it ended.
func (c *Client) LockAccount(ctx context.Context, ref string) ([]string, error) {
	var out struct {
		Revoked []string `json:"revoked"`
	}
	err := c.Do(ctx, "POST", "/admin/v1/accounts/"+url.PathEscape(ref)+"/lock", map[string]any{}, &out)
	return out.Revoked, err
}

// UnlockAccount unlocks an account by id or username.
func (c *Client) UnlockAccount(ctx context.Context, ref string) error {
	return c.Do(ctx, "POST", "/admin/v1/accounts/"+url.PathEscape(ref)+"/unlock", map[string]any{}, nil)
}

// DeleteAccount deletes an account by id or username and returns the
// sessions it ended.
func (c *Client) DeleteAccount(ctx context.Context, ref string) ([]string, error) {
	var out struct {
		Revoked []string `json:"revoked"`
	}
	err := c.Do(ctx, "DELETE", "/admin/v1/accounts/"+url.PathEscape(ref), nil, &out)
	return out.Revoked, err
}
