package ssf

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// MinVerificationInterval is the least time between two verification
// requests of one stream, in seconds (SSF 1.0 §7.1.1).
const MinVerificationInterval = 10

// View is a stream's configuration as a receiver reads it. The
// authorization header is never shown back.
type View struct {
	StreamID                string   `json:"stream_id"`
	Iss                     string   `json:"iss"`
	Aud                     string   `json:"aud"`
	Delivery                Delivery `json:"delivery"`
	EventsSupported         []string `json:"events_supported"`
	EventsRequested         []string `json:"events_requested"`
	EventsDelivered         []string `json:"events_delivered"`
	Description             string   `json:"description,omitempty"`
	MinVerificationInterval int      `json:"min_verification_interval"`
}

// Status is a stream's status as a receiver reads it: SSF 1.0's fields
// plus what cordon can say about delivery.
type Status struct {
	StreamID    string     `json:"stream_id"`
	Status      string     `json:"status"`
	Reason      string     `json:"reason,omitempty"`
	Dropped     int64      `json:"dropped"`
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
}

// Metadata is the transmitter configuration metadata (SSF 1.0 §7.1)
// served at /.well-known/ssf-configuration.
type Metadata struct {
	SpecVersion              string       `json:"spec_version"`
	Issuer                   string       `json:"issuer"`
	JWKSURI                  string       `json:"jwks_uri"`
	DeliveryMethodsSupported []string     `json:"delivery_methods_supported"`
	ConfigurationEndpoint    string       `json:"configuration_endpoint"`
	StatusEndpoint           string       `json:"status_endpoint"`
	VerificationEndpoint     string       `json:"verification_endpoint"`
	CriticalSubjectMembers   []string     `json:"critical_subject_members"`
	AuthorizationSchemes     []AuthScheme `json:"authorization_schemes"`
	DefaultSubjects          string       `json:"default_subjects"`
	EventsSupported          []string     `json:"events_supported"`
}

// AuthScheme names how receivers authenticate (SSF 1.0 §7.1).
type AuthScheme struct {
	SpecURN string `json:"spec_urn"`
}

// Metadata returns the transmitter's metadata, built from the configured
// issuer (never from a request's Host).
func (t *Transmitter) Metadata() Metadata {
	base := strings.TrimRight(t.cfg.Issuer, "/")
	return Metadata{
		SpecVersion: "1_0", Issuer: t.cfg.Issuer, JWKSURI: base + "/.well-known/jwks.json",
		DeliveryMethodsSupported: []string{cordon.SSFDeliveryPush, cordon.SSFDeliveryPoll},
		ConfigurationEndpoint:    base + "/ssf/stream", StatusEndpoint: base + "/ssf/status", VerificationEndpoint: base + "/ssf/verification",
		CriticalSubjectMembers: []string{"user"},
		// RFC 6750 bearer tokens: a cordon admin token of scope ssf.
		AuthorizationSchemes: []AuthScheme{{SpecURN: "urn:ietf:rfc:6750"}},
		DefaultSubjects:      "ALL",
		EventsSupported:      Supported,
	}
}

// Policy is the push endpoint policy in force.
func (t *Transmitter) Policy() Policy { return t.cfg.Policy }

// PollURL is where a poll stream's receiver polls.
func (t *Transmitter) PollURL(id string) string {
	return strings.TrimRight(t.cfg.Issuer, "/") + "/ssf/poll/" + id
}

// View shows a stream to its receiver.
func (t *Transmitter) View(s *cordon.SSFStream) View {
	d := Delivery{Method: s.Delivery, EndpointURL: s.EndpointURL}
	if s.Delivery == cordon.SSFDeliveryPoll {
		d.EndpointURL = t.PollURL(s.ID)
	}
	req := s.EventsRequested
	if req == nil {
		req = []string{}
	}
	return View{StreamID: s.ID, Iss: t.cfg.Issuer, Aud: s.Audience, Delivery: d, EventsSupported: Supported,
		EventsRequested: req, EventsDelivered: Delivered(s), Description: s.Description, MinVerificationInterval: MinVerificationInterval}
}

// StatusOf shows a stream's status.
func StatusOf(s *cordon.SSFStream) Status {
	st := Status{StreamID: s.ID, Status: s.Status, Reason: s.StatusReason, Dropped: s.Dropped, LastError: s.LastError}
	if !s.LastErrorAt.IsZero() {
		at := s.LastErrorAt
		st.LastErrorAt = &at
	}
	return st
}

var errNoStream = cordon.Errorf(cordon.ECodeNotFound, "no such stream")

// Stream returns owner's stream id. Another owner's stream is not found,
// the same answer as a stream that does not exist: a token cannot learn
// which ids other receivers hold.
func (t *Transmitter) Stream(ctx context.Context, owner, id string) (*cordon.SSFStream, error) {
	if id == "" {
		return nil, cordon.FieldError(cordon.ECodeInvalid, "stream_id", "stream_id is required")
	}
	s, err := t.store.SSFStreamByID(ctx, id)
	if errors.Is(err, cordon.ErrNotFound) || (err == nil && s.Owner != owner) {
		return nil, errNoStream
	}
	return s, err
}

// Streams lists owner's streams.
func (t *Transmitter) Streams(ctx context.Context, owner string) ([]*cordon.SSFStream, error) {
	return t.store.SSFStreams(ctx, owner)
}

// Create makes a stream for owner from a complete request.
func (t *Transmitter) Create(ctx context.Context, owner string, r *Request) (*cordon.SSFStream, error) {
	if err := r.Complete(); err != nil {
		return nil, err
	}
	if r.StreamID != "" {
		return nil, cordon.FieldError(cordon.ECodeInvalid, "stream_id", "stream_id is chosen by the transmitter")
	}
	mine, err := t.store.SSFStreams(ctx, owner)
	if err != nil {
		return nil, err
	}
	if len(mine) >= t.cfg.StreamsPerOwner {
		return nil, cordon.Errorf(cordon.ECodeConflict, "this token holds %d streams already, the most it may", len(mine))
	}
	now := t.clock.Now()
	s := &cordon.SSFStream{ID: cordon.NewID("ssf"), Owner: owner, Audience: owner, Status: cordon.SSFEnabled, CreatedAt: now, UpdatedAt: now}
	apply(s, r, true)
	if err := t.store.CreateSSFStream(ctx, s); err != nil {
		return nil, err
	}
	return s, nil
}

// apply copies a request into a stream; replace clears what it omits.
func apply(s *cordon.SSFStream, r *Request, replace bool) {
	if r.Delivery != nil {
		s.Delivery, s.EndpointURL, s.Authorization = r.Delivery.Method, r.Delivery.EndpointURL, r.Delivery.AuthorizationHeader
	}
	switch {
	case r.EventsRequested != nil:
		s.EventsRequested = append([]string{}, *r.EventsRequested...)
	case replace:
		s.EventsRequested = []string{}
	}
	switch {
	case r.Description != nil:
		s.Description = *r.Description
	case replace:
		s.Description = ""
	}
}

// Update changes owner's stream: PATCH (replace false) changes what the
// request carries, PUT (replace true) replaces the configuration.
func (t *Transmitter) Update(ctx context.Context, owner string, r *Request, replace bool) (*cordon.SSFStream, error) {
	if replace {
		if err := r.Complete(); err != nil {
			return nil, err
		}
	}
	s, err := t.Stream(ctx, owner, r.StreamID)
	if err != nil {
		return nil, err
	}
	apply(s, r, replace)
	s.UpdatedAt = t.clock.Now()
	if err := t.store.UpdateSSFStream(ctx, s); errors.Is(err, cordon.ErrNotFound) {
		return nil, errNoStream
	} else if err != nil {
		return nil, err
	}
	t.nudge()
	return s, nil
}

// Delete deletes owner's stream and what it has queued.
func (t *Transmitter) Delete(ctx context.Context, owner, id string) error {
	if _, err := t.Stream(ctx, owner, id); err != nil {
		return err
	}
	if err := t.store.DeleteSSFStream(ctx, id); errors.Is(err, cordon.ErrNotFound) {
		return errNoStream
	} else if err != nil {
		return err
	}
	return nil
}

// StatusRequest is the body of POST /ssf/status.
type StatusRequest struct {
	StreamID string `json:"stream_id"`
	Status   string `json:"status"`
	Reason   string `json:"reason,omitempty"`
}

// SetStatus enables, pauses or disables owner's stream.
func (t *Transmitter) SetStatus(ctx context.Context, owner string, r StatusRequest) (*cordon.SSFStream, error) {
	switch r.Status {
	case cordon.SSFEnabled, cordon.SSFPaused, cordon.SSFDisabled:
	default:
		return nil, cordon.FieldError(cordon.ECodeInvalid, "status", "status must be enabled, paused or disabled")
	}
	if len(r.Reason) > maxDescription || !printable(r.Reason) {
		return nil, cordon.FieldError(cordon.ECodeInvalid, "reason", "reason must be at most %d printable characters", maxDescription)
	}
	s, err := t.Stream(ctx, owner, r.StreamID)
	if err != nil {
		return nil, err
	}
	s.Status, s.StatusReason, s.UpdatedAt = r.Status, r.Reason, t.clock.Now()
	if err := t.store.UpdateSSFStream(ctx, s); errors.Is(err, cordon.ErrNotFound) {
		return nil, errNoStream
	} else if err != nil {
		return nil, err
	}
	if s.Status == cordon.SSFDisabled {
		// SSF 1.0 §8.1.2: a disabled stream holds nothing for its receiver.
		if err := t.dropQueued(ctx, s.ID); err != nil {
			return nil, err
		}
	}
	t.nudge()
	return s, nil
}

// dropQueued gives up every undelivered SET of a stream.
func (t *Transmitter) dropQueued(ctx context.Context, id string) error {
	for {
		evs, err := t.store.PendingSSF(ctx, id, time.Unix(1<<40, 0), 1000, 0)
		if err != nil || len(evs) == 0 {
			return err
		}
		jtis := make([]string, 0, len(evs))
		for _, e := range evs {
			jtis = append(jtis, e.JTI)
		}
		if _, err := t.store.SettleSSF(ctx, id, jtis, t.clock.Now(), "dropped: the stream was disabled"); err != nil {
			return err
		}
	}
}

// VerifyRequest is the body of POST /ssf/verification.
type VerifyRequest struct {
	StreamID string `json:"stream_id"`
	State    string `json:"state,omitempty"`
}

// Verify queues a verification SET carrying the receiver's state (SSF
// 1.0 §8.1.4). At most one per MinVerificationInterval per stream.
func (t *Transmitter) Verify(ctx context.Context, owner string, r VerifyRequest) error {
	if len(r.State) > maxStateLen || !printable(r.State) {
		return cordon.FieldError(cordon.ECodeInvalid, "state", "state must be at most %d printable characters", maxStateLen)
	}
	s, err := t.Stream(ctx, owner, r.StreamID)
	if err != nil {
		return err
	}
	if s.Status == cordon.SSFDisabled {
		return cordon.Errorf(cordon.ECodeConflict, "the stream is disabled: enable it first")
	}
	now := t.clock.Now()
	t.mu.Lock()
	last, seen := t.verified[s.ID]
	if seen && now.Sub(last) < MinVerificationInterval*time.Second {
		t.mu.Unlock()
		e := cordon.Errorf(cordon.ECodeThrottled, "one verification per %d seconds", MinVerificationInterval)
		e.RetryAfter = MinVerificationInterval
		return e
	}
	t.verified[s.ID] = now
	t.mu.Unlock()
	ev := map[string]any{}
	if r.State != "" {
		ev["state"] = r.State
	}
	g := signal{key: "verification/" + cordon.NewID("v"), typ: EventVerification,
		sub: map[string]any{"format": "opaque", "id": s.ID}, event: ev}
	e, err := t.sign(s, g)
	if err != nil {
		return err
	}
	if _, err := t.store.EnqueueSSF(ctx, s.ID, []*cordon.SSFEvent{e}, t.cfg.QueueLimit); errors.Is(err, cordon.ErrNotFound) {
		return errNoStream
	} else if err != nil {
		return err
	}
	t.nudge()
	return nil
}

// PollRequest is an RFC 8936 poll.
type PollRequest struct {
	Ack               []string             `json:"ack,omitempty"`
	SetErrs           map[string]PollError `json:"setErrs,omitempty"`
	MaxEvents         *int                 `json:"maxEvents,omitempty"`
	ReturnImmediately *bool                `json:"returnImmediately,omitempty"`
}

// PollError is a receiver's refusal of one SET.
type PollError struct {
	Err         string `json:"err"`
	Description string `json:"description,omitempty"`
}

// PollResponse is the answer to a poll.
type PollResponse struct {
	Sets          map[string]string `json:"sets"`
	MoreAvailable bool              `json:"moreAvailable,omitempty"`
}

// Bounds of a poll.
const (
	maxPollEvents = 100
	maxAcks       = 1000
	// longPoll is how long a poll with returnImmediately false waits for
	// a SET before answering none.
	longPoll = 10 * time.Second
)

// Poll acknowledges what the receiver acknowledges and returns what is
// queued. Acknowledged SETs are never returned again; unacknowledged ones
// are returned again by the next poll (at least once, same jti).
func (t *Transmitter) Poll(ctx context.Context, owner, id string, r PollRequest) (*PollResponse, error) {
	if len(r.Ack)+len(r.SetErrs) > maxAcks {
		return nil, cordon.FieldError(cordon.ECodeInvalid, "ack", "at most %d acknowledgements per poll", maxAcks)
	}
	n := 10
	if r.MaxEvents != nil {
		if *r.MaxEvents < 0 || *r.MaxEvents > maxPollEvents {
			return nil, cordon.FieldError(cordon.ECodeInvalid, "maxEvents", "maxEvents must be 0 to %d", maxPollEvents)
		}
		n = *r.MaxEvents
	}
	s, err := t.Stream(ctx, owner, id)
	if err != nil {
		return nil, err
	}
	if s.Delivery != cordon.SSFDeliveryPoll {
		return nil, cordon.Errorf(cordon.ECodeConflict, "the stream is delivered by push, not poll")
	}
	now := t.clock.Now()
	if len(r.Ack) > 0 {
		if _, err := t.store.SettleSSF(ctx, id, r.Ack, now, ""); err != nil {
			return nil, err
		}
	}
	for jti, e := range r.SetErrs {
		msg := "receiver refused: " + scrub(e.Err)
		if e.Description != "" {
			msg += " (" + scrub(e.Description) + ")"
		}
		if _, err := t.store.SettleSSF(ctx, id, []string{jti}, now, msg); err != nil {
			return nil, err
		}
	}
	out := &PollResponse{Sets: map[string]string{}}
	if n == 0 || s.Status != cordon.SSFEnabled {
		return out, nil
	}
	// RFC 8936 §2.4: absent means false, the transmitter may hold the poll.
	immediate := r.ReturnImmediately != nil && *r.ReturnImmediately
	deadline := time.Now().Add(longPoll)
	for {
		evs, err := t.store.PendingSSF(ctx, id, t.clock.Now(), n+1, 0)
		if err != nil {
			return nil, err
		}
		if len(evs) > n {
			evs, out.MoreAvailable = evs[:n], true
		}
		for _, e := range evs {
			out.Sets[e.JTI] = e.SET
		}
		if len(evs) > 0 || immediate || time.Now().After(deadline) {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return out, nil
		case <-time.After(250 * time.Millisecond):
		}
	}
}
