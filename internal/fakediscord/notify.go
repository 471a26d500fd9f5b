package fakediscord

import (
	"context"

	"github.com/muster-ops/muster/internal/fakewait"
)

// WaitFor blocks until cond returns true or ctx ends. cond is evaluated once at the start and
// again after every change to the fake's records; it may call the fake's accessors (Messages,
// Callbacks, ...). It returns ctx's error, wrapped, when ctx ends first.
func (s *Server) WaitFor(ctx context.Context, cond func() bool) error {
	return s.changes.Until(ctx, "fakediscord", cond)
}

// WaitForMessage waits until a recorded message change (create, edit, followup, ...) satisfies
// match and returns the first one that does.
func (s *Server) WaitForMessage(ctx context.Context, match func(Message) bool) (Message, error) {
	return fakewait.First(ctx, &s.changes, "fakediscord", s.Messages, match)
}

// WaitForCallback waits until a recorded interaction response satisfies match and returns the
// first one that does.
func (s *Server) WaitForCallback(ctx context.Context, match func(Callback) bool) (Callback, error) {
	return fakewait.First(ctx, &s.changes, "fakediscord", s.Callbacks, match)
}
