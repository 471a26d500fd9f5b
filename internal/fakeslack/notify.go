package fakeslack

import (
	"context"
	"fmt"
	"sync"
)

// notifier wakes every waiter when the recorded state changes. A waiter takes the channel
// before it evaluates its condition, so a change that happens in between still wakes it.
type notifier struct {
	mu sync.Mutex // guards ch
	ch chan struct{}
}

// wait returns a channel that is closed at the next change.
func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

// notify wakes everyone waiting for a change.
func (n *notifier) notify() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
}

// WaitFor blocks until cond returns true or ctx ends. cond is evaluated once at the start and
// again after every change to the fake's records; it may call the fake's accessors (Posts,
// Responses, ...). It returns ctx's error, wrapped, when ctx ends first.
func (s *Server) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		changed := s.changes.wait()
		if cond() {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("fakeslack: condition not met: %w", ctx.Err())
		}
	}
}

// WaitForPost waits until a recorded post satisfies match and returns the first one that does.
func (s *Server) WaitForPost(ctx context.Context, match func(Post) bool) (Post, error) {
	var found Post
	err := s.WaitFor(ctx, func() bool {
		for _, p := range s.Posts() {
			if match(p) {
				found = p
				return true
			}
		}
		return false
	})
	return found, err
}

// WaitForResponse waits until something posted to a response_url satisfies match and returns
// the first one that does.
func (s *Server) WaitForResponse(ctx context.Context, match func(Response) bool) (Response, error) {
	var found Response
	err := s.WaitFor(ctx, func() bool {
		for _, r := range s.Responses() {
			if match(r) {
				found = r
				return true
			}
		}
		return false
	})
	return found, err
}

// Changed returns a channel that is closed at the next change to the fake's records, so a test
// can wait for "something happened" together with other events (a fake clock's waiters).
func (s *Server) Changed() <-chan struct{} { return s.changes.wait() }
