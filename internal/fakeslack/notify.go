package fakeslack

import (
	"context"

	"github.com/muster-ops/muster/internal/fakewait"
)

// WaitFor blocks until cond returns true or ctx ends. cond is evaluated once at the start and
// again after every change to the fake's records; it may call the fake's accessors (Posts,
// Responses, ...). It returns ctx's error, wrapped, when ctx ends first.
func (s *Server) WaitFor(ctx context.Context, cond func() bool) error {
	return s.changes.Until(ctx, "fakeslack", cond)
}

// WaitForPost waits until a recorded post satisfies match and returns the first one that does.
func (s *Server) WaitForPost(ctx context.Context, match func(Post) bool) (Post, error) {
	return fakewait.First(ctx, &s.changes, "fakeslack", s.Posts, match)
}

// WaitForResponse waits until something posted to a response_url satisfies match and returns
// the first one that does.
func (s *Server) WaitForResponse(ctx context.Context, match func(Response) bool) (Response, error) {
	return fakewait.First(ctx, &s.changes, "fakeslack", s.Responses, match)
}

// Changed returns a channel that is closed at the next change to the fake's records, so a test
// can wait for "something happened" together with other events (a fake clock's waiters).
func (s *Server) Changed() <-chan struct{} { return s.changes.Next() }
