package faketwilio

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
// again after every change to the fake's records; it may call the fake's accessors (Messages,
// Calls, ...). It returns ctx's error, wrapped, when ctx ends first.
func (s *Server) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		changed := s.changes.wait()
		if cond() {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("faketwilio: condition not met: %w", ctx.Err())
		}
	}
}

// WaitForMessage waits until a recorded message satisfies match and returns the first one that does.
func (s *Server) WaitForMessage(ctx context.Context, match func(Message) bool) (Message, error) {
	var found Message
	err := s.WaitFor(ctx, func() bool {
		for _, m := range s.Messages() {
			if match(m) {
				found = m
				return true
			}
		}
		return false
	})
	return found, err
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
	var found Call
	err := s.WaitFor(ctx, func() bool {
		for _, c := range s.Calls() {
			if match(c) {
				found = c
				return true
			}
		}
		return false
	})
	return found, err
}
