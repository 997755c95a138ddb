package notices

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cordon-dev/cordon/internal/cordon"
	"github.com/cordon-dev/cordon/internal/incident"
	"github.com/cordon-dev/cordon/internal/notice"
)

// PageUpdate is what the team publishes on an incident's public page.
type PageUpdate struct {
	// Slug names the page in its URL (/status/SLUG); required for the
	// first update, and the page's own (or empty) after.
	Slug            string
	DefaultLanguage string
	Texts           map[string]cordon.NoticeText
}

// PublishPage appends a published update to an incident's public page,
// creating the page at its first. Publishing is the only way onto the
// page: there is no draft a reader could reach.
func (s *Service) PublishPage(ctx context.Context, by incident.Actor, incidentID string, u PageUpdate) (*cordon.PublicPage, error) {
	if u.Slug != "" && !slugPattern.MatchString(u.Slug) {
		return nil, cordon.FieldError(cordon.ECodeUnprocessable, "slug", "slug %q: 1 to 64 lower-case letters, digits and dashes, not starting or ending with a dash (e.g. may-2026)", short(u.Slug))
	}
	if err := CheckTexts(u.DefaultLanguage, u.Texts); err != nil {
		return nil, err
	}
	if _, err := s.store.Incident(ctx, incidentID); errors.Is(err, cordon.ErrNotFound) {
		return nil, cordon.Errorf(cordon.ECodeNotFound, "no incident %q", short(incidentID))
	} else if err != nil {
		return nil, err
	}
	slug := u.Slug
	if slug == "" {
		p, err := s.store.PublicPageOf(ctx, incidentID)
		if errors.Is(err, cordon.ErrNotFound) {
			return nil, cordon.FieldError(cordon.ECodeUnprocessable, "slug", "incident %s has no public page yet; its first update names the page's slug (--slug)", incidentID)
		} else if err != nil {
			return nil, err
		}
		slug = p.Slug
	}
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	up := &cordon.PublicUpdate{ID: cordon.NewID("pu"), PublishedAt: now, PublishedBy: by.Principal, DefaultLanguage: u.DefaultLanguage, Texts: u.Texts}
	title := u.Texts[u.DefaultLanguage].Title
	rctx, err := s.record(ctx, by, incident.Subject(incidentID), incident.Category,
		fmt.Sprintf("public page update %s published at /status/%s: %s", up.ID, slug, title))
	if err != nil {
		return nil, err
	}
	p, err := s.store.PublishPageUpdate(rctx, incidentID, slug, up)
	if errors.Is(err, cordon.ErrAlreadyExists) {
		return nil, cordon.FieldError(cordon.ECodeConflict, "slug", "the slug %q is another incident's page; choose another", slug)
	}
	if err != nil {
		return nil, err
	}
	s.log.Info("public page update", "incident", incidentID, "slug", slug, "update", up.ID, "by", by.Principal)
	return p, nil
}

// PageOf returns an incident's page as the team sees it.
func (s *Service) PageOf(ctx context.Context, incidentID string) (*cordon.PublicPage, error) {
	p, err := s.store.PublicPageOf(ctx, incidentID)
	if errors.Is(err, cordon.ErrNotFound) {
		return nil, cordon.Errorf(cordon.ECodeNotFound, "incident %q has no public page; publish one with cordon incident publish", short(incidentID))
	}
	return p, err
}

// Page returns the public page of slug for rendering at url; ErrNotFound
// (a 404 that says nothing more) when no page was published there.
func (s *Service) Page(ctx context.Context, slug, url string) (*notice.Page, error) {
	if !slugPattern.MatchString(slug) {
		return nil, cordon.ErrNotFound
	}
	p, err := s.store.PublicPageBySlug(ctx, slug)
	if err != nil {
		return nil, err
	}
	page := &notice.Page{URL: url}
	for _, u := range p.Updates {
		page.Updates = append(page.Updates, notice.Update{ID: u.ID, At: u.PublishedAt, Texts: toTexts(u.DefaultLanguage, u.Texts)})
	}
	if len(page.Updates) == 0 {
		return nil, cordon.ErrNotFound
	}
	return page, nil
}
