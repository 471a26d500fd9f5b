package store

import (
	"context"
	"sync"
	"time"
)

// groupCommit records items in batches: the first caller to find no batch
// running records everything queued meanwhile in one round trip, and
// again until the queue is empty, while the others wait for theirs. Under
// a burst Redis runs one script or transaction for many items; a lone
// item waits for nobody. While items arrive faster than one batch is
// recorded (a batch held more than one), the recorder lets them gather
// for a moment between batches, so a batch holds a few rather than one
// or two.
type groupCommit[T any] struct {
	// max bounds a batch; gather is the pause between busy batches.
	max    int
	gather time.Duration
	// record writes one batch, setting each item's err (and whatever
	// result T carries).
	record func(ctx context.Context, batch []*committing[T])

	// mu guards the fields that follow.
	mu      sync.Mutex
	queue   []*committing[T]
	running bool
}

// committing is one item on its way to Redis.
type committing[T any] struct {
	v    T
	err  error
	done chan struct{}
}

// commit queues v and returns once its batch was recorded (or ctx ended
// first: the batch is still recorded).
func (g *groupCommit[T]) commit(ctx context.Context, v T) (T, error) {
	c := &committing[T]{v: v, done: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	if g.running {
		g.mu.Unlock()
		select {
		case <-c.done:
			return c.v, c.err
		case <-ctx.Done():
			return c.v, unavailable(ctx.Err())
		}
	}
	g.running = true
	g.mu.Unlock()
	// This caller records batches until none is left; the context it
	// records them under is its own, without its cancellation (the others
	// wait on it), bounded as one send's record is.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for {
		g.mu.Lock()
		batch := g.queue
		if len(batch) > g.max {
			batch = batch[:g.max]
		}
		g.queue = g.queue[len(batch):]
		if len(batch) == 0 {
			g.running = false
			g.mu.Unlock()
			break
		}
		g.mu.Unlock()
		g.record(rctx, batch)
		for _, b := range batch {
			close(b.done)
		}
		if len(batch) > 1 && len(batch) < g.max {
			time.Sleep(g.gather)
		}
	}
	<-c.done
	return c.v, c.err
}
