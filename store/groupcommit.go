package store

import (
	"context"
	"sync"
	"time"
)

// groupCommit records items in batches: the first item to find no
// recorder running starts one, which records everything queued meanwhile
// in one round trip, and again until the queue is empty; each caller
// waits for its own item's batch only. Under a burst Redis runs one
// script or transaction for many items; a lone item waits for nobody.
// While items keep coming from many callers (a batch held more than one,
// now or in the recorder that ended moments ago), the recorder lets them
// gather before each batch for as long as they keep arriving (up to
// gather), so a batch holds many rather than one or two, and a few
// callers whose items have all arrived are not held. One caller
// recording item after item never waits.
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
	// arrived is signalled (without blocking) by each commit, so a
	// gathering recorder knows items are still coming.
	arrived chan struct{}
	// lastDrained is when the recorder last found the queue empty, and
	// concurrent whether any of its batches held more than one item.
	lastDrained time.Time
	concurrent  bool
}

// newGroupCommit records with record, at most maxBatch items a batch,
// gathering for batchGather between busy batches.
func newGroupCommit[T any](record func(ctx context.Context, batch []*committing[T])) *groupCommit[T] {
	return &groupCommit[T]{max: maxBatch, gather: batchGather, record: record}
}

const (
	// maxBatch bounds one script's or transaction's batch.
	maxBatch = 256
	// batchGather is how long items may gather between two batches
	// while callers are busy (settle stops sooner once they stop
	// coming). Each batch is a round trip, and on a small virtual
	// machine a round trip alone costs Redis some 35 µs of CPU (system
	// calls, the event loop), more than the commands of a send: with
	// SMS queued at a thousand a second, a 3 ms gather made batches of 3
	// to 5 and cost Redis 66 µs an SMS (its queueing included), 25 ms
	// makes them 20 to 25 and costs about 52. The outcome of a send is
	// recorded a little later; the send itself is not held.
	batchGather = 25 * time.Millisecond
)

// committing is one item on its way to Redis.
type committing[T any] struct {
	v    T
	err  error
	done chan struct{}
}

// commit queues v and returns it, as its batch's record left it, once the
// batch was recorded; or the zero T and an error when ctx ended first
// (the batch is still recorded).
func (g *groupCommit[T]) commit(ctx context.Context, v T) (T, error) {
	c := &committing[T]{v: v, done: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	select {
	case g.arrivals() <- struct{}{}:
	default:
	}
	if !g.running {
		g.running = true
		// Recorded apart from this caller, who returns with its own
		// item's batch while a busy burst keeps the recorder going.
		go g.drain(context.WithoutCancel(ctx))
	}
	g.mu.Unlock()
	select {
	case <-c.done:
		return c.v, c.err
	case <-ctx.Done():
		// The recorder may still be writing c's result: not read here.
		var zero T
		return zero, unavailable(ctx.Err())
	}
}

// drain records batches until the queue is empty, each bounded as one
// send's record is.
func (g *groupCommit[T]) drain(base context.Context) {
	g.mu.Lock()
	// A caller that records one item after another (nobody else
	// waiting) never waits for a gather.
	busy := g.concurrent && time.Since(g.lastDrained) < busySpell
	g.mu.Unlock()
	concurrent := false
	for {
		if busy {
			g.settle()
		}
		g.mu.Lock()
		batch := g.queue
		if len(batch) > g.max {
			batch = batch[:g.max]
		}
		g.queue = g.queue[len(batch):]
		if len(batch) == 0 {
			g.running = false
			g.lastDrained, g.concurrent = time.Now(), concurrent
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		ctx, cancel := context.WithTimeout(base, 30*time.Second)
		g.record(ctx, batch)
		cancel()
		for _, b := range batch {
			close(b.done)
		}
		concurrent = concurrent || len(batch) > 1
		busy = len(batch) < g.max && (busy || len(batch) > 1)
	}
}

// settle waits while items keep arriving: until none arrived for an
// eighth of gather, the queue holds a full batch, or gather has passed.
func (g *groupCommit[T]) settle() {
	g.mu.Lock()
	arrived := g.arrivals()
	g.mu.Unlock()
	end := time.NewTimer(g.gather)
	defer end.Stop()
	gap := max(g.gather/8, 100*time.Microsecond)
	quiet := time.NewTimer(gap)
	defer quiet.Stop()
	for {
		select {
		case <-arrived:
			g.mu.Lock()
			full := len(g.queue) >= g.max
			g.mu.Unlock()
			if full {
				return
			}
			quiet.Reset(gap)
		case <-quiet.C:
			return
		case <-end.C:
			return
		}
	}
}

// arrivals is the arrived channel, made on first use; g.mu is held.
func (g *groupCommit[T]) arrivals() chan struct{} {
	if g.arrived == nil {
		g.arrived = make(chan struct{}, 1)
	}
	return g.arrived
}

// busySpell: a recorder started within this of the last one's end is in
// a busy spell (items keep coming), and lets them gather first.
const busySpell = 50 * time.Millisecond
