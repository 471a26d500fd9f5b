package notify

import (
	"context"
	"sync"
	"time"
)

// Paced sends through out at most each channel's Pacing.Rate messages a
// second from this process, one at a time: what degraded mode sends
// directly (commands/degraded.go), while the outbox, whose lanes pace
// through Redis, is out of reach. A message waits its turn, or until its
// context ends.
type Paced struct {
	out    Notifier
	pacing map[string]Pacing
	now    func() time.Time

	// mu guards next and lanes.
	mu sync.Mutex
	// next is when each paced channel may send again.
	next map[string]time.Time
	// lanes hold one sender at a time per channel.
	lanes map[string]chan struct{}
}

var _ Notifier = (*Paced)(nil)

// NewPaced paces out by pacing (channel -> Pacing; a channel without a
// rate is not paced).
func NewPaced(out Notifier, pacing map[string]Pacing) *Paced {
	return &Paced{out: out, pacing: pacing, now: time.Now, next: map[string]time.Time{}, lanes: map[string]chan struct{}{}}
}

// Notify waits for m's channel's turn, then sends. Waiting never says
// retry: a message whose context ended in the queue was not sent.
func (p *Paced) Notify(ctx context.Context, m Message) (bool, error) {
	pace, ok := p.pacing[m.Channel]
	if ok && pace.Rate > 0 {
		if err := p.turn(ctx, m.Channel, time.Duration(float64(time.Second)/pace.Rate)); err != nil {
			return false, err
		}
	}
	return p.out.Notify(ctx, m)
}

// turn waits for the channel's turn: one sender at a time, each at least
// every after the one before actually went (so a late wake-up never lets
// two go closer together than the rate).
func (p *Paced) turn(ctx context.Context, channel string, every time.Duration) error {
	p.mu.Lock()
	lock, ok := p.lanes[channel]
	if !ok {
		lock = make(chan struct{}, 1)
		p.lanes[channel] = lock
	}
	p.mu.Unlock()
	select {
	case lock <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-lock }()
	p.mu.Lock()
	at := p.next[channel]
	p.mu.Unlock()
	if d := at.Sub(p.now()); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p.mu.Lock()
	p.next[channel] = p.now().Add(every)
	p.mu.Unlock()
	return nil
}
