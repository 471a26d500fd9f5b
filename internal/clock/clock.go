// Package clock is muster's notion of time, injected everywhere time
// matters so tests can move it by hand and the console can run it faster.
package clock

import (
	"sort"
	"sync"
	"time"
)

// Clock tells the time and waits on it.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed on this
	// clock. stop releases the wait early (no send then happens).
	After(d time.Duration) (c <-chan time.Time, stop func())
}

// Real is the wall clock.
type Real struct{}

// Now is time.Now.
func (Real) Now() time.Time { return time.Now() }

// After is a time.Timer.
func (Real) After(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

// Scaled runs Scale times faster than the wall clock from Start, for
// console rehearsals (muster console --time-scale 60 makes a minute pass
// in a second).
type Scaled struct {
	start     time.Time
	realStart time.Time
	scale     float64
}

// NewScaled returns a clock that starts at start and runs scale times
// faster than real time.
func NewScaled(start time.Time, scale float64) *Scaled {
	if scale <= 0 {
		scale = 1
	}
	return &Scaled{start: start, realStart: time.Now(), scale: scale}
}

// Now is the scaled time.
func (s *Scaled) Now() time.Time {
	return s.start.Add(time.Duration(float64(time.Since(s.realStart)) * s.scale))
}

// After waits d of scaled time.
func (s *Scaled) After(d time.Duration) (<-chan time.Time, func()) {
	out := make(chan time.Time, 1)
	t := time.AfterFunc(time.Duration(float64(d)/s.scale), func() { out <- s.Now() })
	return out, func() { t.Stop() }
}

// Fake is a clock that moves only when told to. Safe for concurrent use.
type Fake struct {
	// mu guards the fields that follow.
	mu      sync.Mutex
	now     time.Time
	waiters []*waiter
	// changed is closed and replaced whenever a waiter is added, so a
	// test can wait until the code under test is blocked on the clock.
	changed chan struct{}
}

type waiter struct {
	at time.Time
	c  chan time.Time
}

// NewFake returns a fake clock set to now.
func NewFake(now time.Time) *Fake { return &Fake{now: now, changed: make(chan struct{})} }

// Now is the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// After waits until the fake time has advanced by d.
func (f *Fake) After(d time.Duration) (<-chan time.Time, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := make(chan time.Time, 1)
	if d <= 0 {
		c <- f.now
		return c, func() {}
	}
	w := &waiter{at: f.now.Add(d), c: c}
	f.waiters = append(f.waiters, w)
	close(f.changed)
	f.changed = make(chan struct{})
	return c, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		for i, x := range f.waiters {
			if x == w {
				f.waiters = append(f.waiters[:i], f.waiters[i+1:]...)
				return
			}
		}
	}
}

// Advance moves the clock forward by d and fires every wait that is due,
// earliest first.
func (f *Fake) Advance(d time.Duration) { f.Set(f.Now().Add(d)) }

// Set moves the clock to t (never backwards) and fires due waits.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.After(f.now) {
		f.now = t
	}
	sort.Slice(f.waiters, func(i, j int) bool { return f.waiters[i].at.Before(f.waiters[j].at) })
	keep := f.waiters[:0]
	for _, w := range f.waiters {
		if w.at.After(f.now) {
			keep = append(keep, w)
			continue
		}
		w.c <- f.now
	}
	f.waiters = keep
}

// Waiters is how many waits are pending.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// Changed returns a channel closed the next time a wait is added.
func (f *Fake) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}
