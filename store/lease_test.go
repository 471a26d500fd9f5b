package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/store"
)

// leaseClock is a settable clock for the store.
type leaseClock struct {
	// mu guards now.
	mu  sync.Mutex
	now time.Time
}

func (c *leaseClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *leaseClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// One holder at a time; only the holder renews or releases; an ended
// lease goes to whoever asks next; a release frees it at once.
func TestLeaseOneHolder(t *testing.T) {
	clk := &leaseClock{now: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
	a := storetest.Open(t, clk.Now)
	b := storetest.OpenPeer(t, a, clk.Now) // a second replica
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const ttl = 9 * time.Second
	const name = "slack-socket"

	l, err := a.AcquireLease(ctx, name, "A", ttl)
	if err != nil || !l.Held || l.Holder != "A" || !l.Until.Equal(clk.Now().Add(ttl)) {
		t.Fatalf("A acquires a free lease: %+v, %v", l, err)
	}
	l, err = b.AcquireLease(ctx, name, "B", ttl)
	if err != nil || l.Held || l.Holder != "A" || !l.Until.Equal(clk.Now().Add(ttl)) {
		t.Fatalf("B acquires A's lease: %+v, %v; want refused, naming A and its end", l, err)
	}
	if l, err := b.RenewLease(ctx, name, "B", ttl); err != nil || l.Held {
		t.Fatalf("B renews A's lease: %+v, %v; want refused", l, err)
	}
	if ok, err := b.ReleaseLease(ctx, name, "B"); err != nil || ok {
		t.Fatalf("B releases A's lease: %v, %v; want refused", ok, err)
	}

	// A renews before the end: B still cannot take it past the first end.
	clk.advance(ttl / 3)
	if l, err := a.RenewLease(ctx, name, "A", ttl); err != nil || !l.Held || !l.Until.Equal(clk.Now().Add(ttl)) {
		t.Fatalf("A renews: %+v, %v", l, err)
	}
	clk.advance(ttl - time.Second)
	if l, err := b.AcquireLease(ctx, name, "B", ttl); err != nil || l.Held {
		t.Fatalf("B acquires a renewed lease: %+v, %v; want refused", l, err)
	}
	// Re-acquiring by the holder extends it.
	if l, err := a.AcquireLease(ctx, name, "A", ttl); err != nil || !l.Held {
		t.Fatalf("A re-acquires its own lease: %+v, %v", l, err)
	}

	// A dies (no renew): at its end, B takes over; A's late renew fails.
	clk.advance(ttl - time.Millisecond)
	if l, err := b.AcquireLease(ctx, name, "B", ttl); err != nil || l.Held {
		t.Fatalf("B acquires a millisecond early: %+v, %v; want refused", l, err)
	}
	clk.advance(time.Millisecond)
	if h, err := b.LeaseHolder(ctx, name); err != nil || h.Holder != "" {
		t.Fatalf("holder of an ended lease: %+v, %v; want none", h, err)
	}
	if l, err := b.AcquireLease(ctx, name, "B", ttl); err != nil || !l.Held || l.Holder != "B" {
		t.Fatalf("B acquires the ended lease: %+v, %v", l, err)
	}
	if l, err := a.RenewLease(ctx, name, "A", ttl); err != nil || l.Held || l.Holder != "B" {
		t.Fatalf("A renews after losing the lease: %+v, %v; want refused, naming B", l, err)
	}
	if h, err := a.LeaseHolder(ctx, name); err != nil || h.Holder != "B" {
		t.Fatalf("holder: %+v, %v; want B", h, err)
	}

	// B releases: A may take it at once.
	if ok, err := b.ReleaseLease(ctx, name, "B"); err != nil || !ok {
		t.Fatalf("B releases: %v, %v", ok, err)
	}
	if l, err := a.AcquireLease(ctx, name, "A", ttl); err != nil || !l.Held {
		t.Fatalf("A acquires a released lease: %+v, %v", l, err)
	}
	// Leases are per name.
	if l, err := b.AcquireLease(ctx, "discord-gateway", "B", ttl); err != nil || !l.Held {
		t.Fatalf("B acquires another lease: %+v, %v", l, err)
	}
}

// Racing replicas: exactly one of many acquires a free lease.
func TestLeaseRace(t *testing.T) {
	a := storetest.Open(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := a.AcquireLease(ctx, "gateway", "replica-"+string(rune('a'+i)), time.Minute)
			if err != nil {
				t.Error(err)
				return
			}
			if l.Held {
				mu.Lock()
				won++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d replicas hold the lease, want 1", won)
	}
}

func TestLeaseRefusesBadArguments(t *testing.T) {
	a := storetest.Open(t, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		name, token string
		ttl         time.Duration
	}{{"", "A", time.Second}, {"x", "", time.Second}, {"x", "A", 0}} {
		if _, err := a.AcquireLease(ctx, tc.name, tc.token, tc.ttl); err == nil || errors.Is(err, store.ErrUnavailable) {
			t.Errorf("AcquireLease(%q, %q, %v) = %v, want an argument error", tc.name, tc.token, tc.ttl, err)
		}
	}
}
