package fakewait

import (
	"context"
	"sync"
)

// Door keeps a fake's requests waiting, unanswered, while it is held: a
// test can then see what the caller does while its request is in flight,
// or stop the caller at that moment. Each fake decides what a held
// request has done already (Twilio's has been accepted, Slack's not).
// The zero value is open.
type Door struct {
	// Changes, when set, is notified whenever the number of held requests
	// changes, so a test can wait for a request to arrive at the door.
	Changes *Changes

	mu   sync.Mutex // guards the fields that follow
	gate chan struct{}
	held int
}

// Hold makes the requests that arrive from now on wait until Release.
func (d *Door) Hold() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gate == nil {
		d.gate = make(chan struct{})
	}
}

// Release lets the held requests through and stops holding.
func (d *Door) Release() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gate != nil {
		close(d.gate)
		d.gate = nil
	}
}

// Held is how many requests wait at the door now.
func (d *Door) Held() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.held
}

// Pass waits while the door is held; false when ctx (the request's)
// ended first, because the caller went away.
func (d *Door) Pass(ctx context.Context) bool {
	d.mu.Lock()
	gate := d.gate
	if gate != nil {
		d.held++
	}
	d.mu.Unlock()
	if gate == nil {
		return true
	}
	d.notify()
	defer func() {
		d.mu.Lock()
		d.held--
		d.mu.Unlock()
		d.notify()
	}()
	select {
	case <-gate:
		return true
	case <-ctx.Done():
		return false
	}
}

func (d *Door) notify() {
	if d.Changes != nil {
		d.Changes.Notify()
	}
}
