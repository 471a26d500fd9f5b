// Package fakewait lets tests wait on the fakes of outside services
// (internal/fakeslack, fakediscord, faketwilio) without sleeping: a fake
// signals every change to its records, and a waiter re-checks its
// condition at each one.
package fakewait

import (
	"context"
	"fmt"
	"sync"
)

// Changes wakes every waiter when the recorded state changes. A waiter
// takes the channel before it evaluates its condition, so a change that
// happens in between still wakes it. The zero value is ready to use.
type Changes struct {
	mu sync.Mutex // guards ch
	ch chan struct{}
}

// Next returns a channel that is closed at the next change.
func (c *Changes) Next() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

// Notify wakes everyone waiting for a change.
func (c *Changes) Notify() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
}

// Until blocks until cond returns true or ctx ends. cond is evaluated once
// at the start and again after every change. name (the fake's) prefixes
// the error returned, which wraps ctx's, when ctx ends first.
func (c *Changes) Until(ctx context.Context, name string, cond func() bool) error {
	for {
		changed := c.Next()
		if cond() {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("%s: condition not met: %w", name, ctx.Err())
		}
	}
}

// First waits until one of the records list returns satisfies match and
// returns the first that does.
func First[T any](ctx context.Context, c *Changes, name string, list func() []T, match func(T) bool) (T, error) {
	var found T
	err := c.Until(ctx, name, func() bool {
		for _, x := range list() {
			if match(x) {
				found = x
				return true
			}
		}
		return false
	})
	return found, err
}
