package lease_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/clock"
	"github.com/muster-ops/muster/internal/lease"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/store"
)

const (
	ttl       = 9 * time.Second
	leaseName = "slack-socket"
)

var start = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// world is a shared Redis, a fake clock, and an ordered log of who gained
// and gave up the lease (on the fake clock).
type world struct {
	t   *testing.T
	clk *clock.Fake
	st  *store.Store
	// mu guards events.
	mu     sync.Mutex
	events []event
}

type event struct {
	who  string
	held bool
	at   time.Time
}

func newWorld(t *testing.T) *world {
	clk := clock.NewFake(start)
	return &world{t: t, clk: clk, st: storetest.Open(t, clk.Now)}
}

// replica is one muster process contending for the lease.
type replica struct {
	name    string
	leases  *faulty
	cancel  context.CancelFunc
	exited  chan struct{}
	started chan time.Time // fn began (fake time)
	stopped chan time.Time // fn's context ended (fake time)
}

// start runs a replica: its fn runs until its context ends.
func (w *world) start(name string) *replica {
	w.t.Helper()
	r := &replica{name: name, leases: &faulty{Leases: storetest.OpenPeer(w.t, w.st, w.clk.Now)},
		exited: make(chan struct{}), started: make(chan time.Time, 8), stopped: make(chan time.Time, 8)}
	run := lease.New(lease.Options{Leases: r.leases, Clock: w.clk, Token: name})
	run.OnChange = func(_ string, held bool) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.events = append(w.events, event{name, held, w.clk.Now()})
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		defer close(r.exited)
		if err := run.RunWithLease(ctx, leaseName, ttl, func(ctx context.Context) {
			r.started <- w.clk.Now()
			<-ctx.Done()
			r.stopped <- w.clk.Now()
		}); err != nil {
			w.t.Error(err)
		}
	}()
	w.t.Cleanup(func() {
		cancel()
		<-r.exited
	})
	return r
}

// settle waits until n waits are pending on the clock: every runner has
// done what the last clock move allowed and sleeps again.
func (w *world) settle(n int) {
	w.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for w.clk.Waiters() != n {
		if time.Now().After(deadline) {
			w.t.Fatalf("runners did not settle: %d waits pending, want %d", w.clk.Waiters(), n)
		}
		<-tick.C
	}
}

// advance moves the clock by d and settles.
func (w *world) advance(d time.Duration, waiters int) {
	w.t.Helper()
	w.clk.Advance(d)
	w.settle(waiters)
}

// holders lists who gained the lease, in order, with when.
func (w *world) gained() []event {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []event
	for _, e := range w.events {
		if e.held {
			out = append(out, e)
		}
	}
	return out
}

func (w *world) log() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := ""
	for _, e := range w.events {
		s += fmt.Sprintf("  +%v %s held=%v\n", e.at.Sub(start), e.who, e.held)
	}
	return s
}

func recv(t *testing.T, c <-chan time.Time, what string) time.Time {
	t.Helper()
	select {
	case at := <-c:
		return at
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting until %s", what)
		return time.Time{}
	}
}

// bringUp starts A (which acquires) then B (which waits), and checks that
// while A renews, B never gets the lease.
func bringUp(t *testing.T, w *world) (a, b *replica) {
	t.Helper()
	a = w.start("A")
	recv(t, a.started, "A runs")
	w.settle(1)
	b = w.start("B")
	w.settle(2)
	for i := 0; i < 6; i++ { // two lease lengths of renewals
		w.advance(ttl/3, 2)
	}
	if g := w.gained(); len(g) != 1 || g[0].who != "A" {
		t.Fatalf("while A renews, holders were:\n%s", w.log())
	}
	return a, b
}

// A dies (its context ends and it can reach nothing, so it cannot
// release): B takes over within ttl of the death, and not before A's
// lease has ended.
func TestStandbyTakesOverWhenHolderDies(t *testing.T) {
	w := newWorld(t)
	a, b := bringUp(t, w)

	a.leases.kill()
	a.cancel()
	<-a.exited
	recv(t, a.stopped, "A's function stops")
	w.settle(1)
	died, end := w.clk.Now(), a.leases.lastEnd()

	for i := 0; len(w.gained()) < 2; i++ {
		if i > 2*int(ttl/time.Second) {
			t.Fatalf("B never took over:\n%s", w.log())
		}
		w.advance(time.Second, 1)
	}
	g := w.gained()[1]
	if g.who != "B" {
		t.Fatalf("second holder %s, want B:\n%s", g.who, w.log())
	}
	if g.at.Sub(died) > ttl {
		t.Errorf("B took over %v after A died, want within %v", g.at.Sub(died), ttl)
	}
	if g.at.Before(end) {
		t.Errorf("B took over at +%v, before A's lease ended at +%v", g.at.Sub(start), end.Sub(start))
	}
	recv(t, b.started, "B runs")
	t.Logf("A died at +%v (lease to +%v); B took over at +%v", died.Sub(start), end.Sub(start), g.at.Sub(start))
}

// A is cut off from Redis but keeps running: it stops its function by
// its lease's end, before B can take over, and once back it stays a
// standby while B holds the lease.
func TestHolderCutOffStopsBeforeTakeover(t *testing.T) {
	w := newWorld(t)
	a, b := bringUp(t, w)

	a.leases.kill()
	for i := 0; len(w.gained()) < 2; i++ {
		if i > 3*int(ttl/time.Second) {
			t.Fatalf("B never took over:\n%s", w.log())
		}
		w.advance(time.Second, 2)
	}
	g := w.gained()[1]
	aStop := recv(t, a.stopped, "A's function stops")
	if g.who != "B" || aStop.After(g.at) {
		t.Fatalf("A stopped at +%v, B started at +%v: they overlapped\n%s", aStop.Sub(start), g.at.Sub(start), w.log())
	}
	recv(t, b.started, "B runs")

	a.leases.heal()
	for i := 0; i < 6; i++ {
		w.advance(ttl/3, 2)
	}
	if n := len(w.gained()); n != 2 {
		t.Fatalf("after A came back, holders were:\n%s", w.log())
	}
}

// A shuts down cleanly: it releases the lease, and B takes over at its
// next retry instead of waiting for the lease to end.
func TestCleanShutdownHandsOverAtOnce(t *testing.T) {
	w := newWorld(t)
	a, b := bringUp(t, w)
	a.cancel()
	<-a.exited
	w.settle(1)
	stoppedAt := w.clk.Now()
	if l, err := w.st.LeaseHolder(context.Background(), leaseName); err != nil || l.Holder != "" {
		t.Fatalf("after A's shutdown the lease is %+v, %v; want released", l, err)
	}
	for len(w.gained()) < 2 {
		if w.clk.Now().Sub(stoppedAt) > ttl/3 {
			t.Fatalf("B did not take over within one retry:\n%s", w.log())
		}
		w.advance(time.Second, 1)
	}
	recv(t, b.started, "B runs")
}

// faulty passes lease calls to the store until killed; then every call
// fails as if the network were gone. It remembers the end of the last
// lease the store granted.
type faulty struct {
	lease.Leases
	// mu guards the fields that follow.
	mu   sync.Mutex
	dead bool
	end  time.Time
}

var errCutOff = errors.New("connection refused (test)")

func (f *faulty) kill()              { f.mu.Lock(); f.dead = true; f.mu.Unlock() }
func (f *faulty) heal()              { f.mu.Lock(); f.dead = false; f.mu.Unlock() }
func (f *faulty) lastEnd() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.end }

func (f *faulty) note(l store.Lease, err error) (store.Lease, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil && l.Held {
		f.end = l.Until
	}
	return l, err
}

func (f *faulty) isDead() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.dead }

func (f *faulty) AcquireLease(ctx context.Context, name, token string, ttl time.Duration) (store.Lease, error) {
	if f.isDead() {
		return store.Lease{}, errCutOff
	}
	return f.note(f.Leases.AcquireLease(ctx, name, token, ttl))
}

func (f *faulty) RenewLease(ctx context.Context, name, token string, ttl time.Duration) (store.Lease, error) {
	if f.isDead() {
		return store.Lease{}, errCutOff
	}
	return f.note(f.Leases.RenewLease(ctx, name, token, ttl))
}

func (f *faulty) ReleaseLease(ctx context.Context, name, token string) (bool, error) {
	if f.isDead() {
		return false, errCutOff
	}
	return f.Leases.ReleaseLease(ctx, name, token)
}
