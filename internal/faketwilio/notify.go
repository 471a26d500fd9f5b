package faketwilio

import (
	"context"

	"github.com/muster-ops/muster/internal/fakewait"
)

// WaitFor blocks until cond returns true or ctx ends. cond is evaluated once at the start and
// again after every change to the fake's records; it may call the fake's accessors (Messages,
// Calls, ...). It returns ctx's error, wrapped, when ctx ends first.
func (s *Server) WaitFor(ctx context.Context, cond func() bool) error {
	return s.changes.Until(ctx, "faketwilio", cond)
}

// WaitForMessage waits until a recorded message satisfies match and returns the first one that does.
func (s *Server) WaitForMessage(ctx context.Context, match func(Message) bool) (Message, error) {
	return fakewait.First(ctx, &s.changes, "faketwilio", s.Messages, match)
}

// WaitForMessages waits until at least n messages have been accepted and returns all of them.
func (s *Server) WaitForMessages(ctx context.Context, n int) ([]Message, error) {
	var all []Message
	err := s.WaitFor(ctx, func() bool {
		all = s.Messages()
		return len(all) >= n
	})
	return all, err
}

// WaitForCall waits until a recorded call satisfies match and returns the first one that does.
func (s *Server) WaitForCall(ctx context.Context, match func(Call) bool) (Call, error) {
	return fakewait.First(ctx, &s.changes, "faketwilio", s.Calls, match)
}
