// Package lease runs a function on exactly one replica at a time: the
// one that holds a named lease in Redis. Slack Socket Mode and the
// Discord gateway use it, so an organization has one connection to each
// however many `muster serve` processes share its Redis, and another
// replica takes over when the holder dies.
//
// Timing, for a lease of ttl: the holder renews every ttl/3 and stops fn
// once it cannot confirm the lease before its end (no renewal reached
// Redis), so it has stopped before anyone else can acquire it. A standby
// retries every ttl/3, and at the end of the holder's lease exactly, so
// it takes over at most ttl after the holder's last renewal, that is
// within ttl + ttl/3 of the holder's death (12 s for ttl = 9 s).
package lease

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/muster-ops/muster/internal/clock"
	"github.com/muster-ops/muster/store"
)

// DefaultTTL is the lease length the platform adapters use unless told
// otherwise: a holder renews every 3⅓ s, and a standby takes over within
// 13⅓ s of the holder's death, inside the 15 s that muster promises.
const DefaultTTL = 10 * time.Second

// Leases is what the runner needs of the store.
type Leases interface {
	AcquireLease(ctx context.Context, name, token string, ttl time.Duration) (store.Lease, error)
	RenewLease(ctx context.Context, name, token string, ttl time.Duration) (store.Lease, error)
	ReleaseLease(ctx context.Context, name, token string) (bool, error)
}

var _ Leases = (*store.Store)(nil)

// Runner runs functions under leases for one process.
type Runner struct {
	leases Leases
	clock  clock.Clock
	token  string
	log    *zap.Logger
	// OnChange, when set, is called when this process gains (held true)
	// or gives up (held false) a lease; for tests and metrics. held false
	// is reported when fn's context is cancelled, before fn has returned.
	// Set it before RunWithLease.
	OnChange func(name string, held bool)
}

// Options configure a Runner.
type Options struct {
	// Leases is the store (required).
	Leases Leases
	// Clock times renewals and retries; clock.Real when nil. It should be
	// the store's clock, which times the leases' ends.
	Clock clock.Clock
	// Token names this process as a holder (notify.NewToken); required.
	Token string
	// Logger; zap.NewNop when nil.
	Logger *zap.Logger
}

// New builds a Runner.
func New(o Options) *Runner {
	r := &Runner{leases: o.Leases, clock: o.Clock, token: o.Token, log: o.Logger}
	if r.clock == nil {
		r.clock = clock.Real{}
	}
	if r.log == nil {
		r.log = zap.NewNop()
	}
	return r
}

// Token is the name this process holds leases under.
func (r *Runner) Token() string { return r.token }

// RunWithLease runs fn whenever this process holds the lease name, until
// ctx ends. fn's context is cancelled when the lease is lost (another
// replica took it, or it could not be renewed before its end) and when
// ctx ends; RunWithLease waits for fn to return each time. fn should run
// until its context ends; if it returns early (its connection failed for
// good), the lease is released so that any replica, this one included,
// starts over. When ctx ends the lease is released, so a standby takes
// over at its next retry rather than at the lease's end.
func (r *Runner) RunWithLease(ctx context.Context, name string, ttl time.Duration, fn func(ctx context.Context)) error {
	if ttl <= 0 || name == "" || r.token == "" || r.leases == nil {
		return errors.New("lease: a lease name, a token, a store and a positive ttl are required")
	}
	every := ttl / 3
	log := r.log.With(zap.String("lease", name))
	var lastErr string
	for ctx.Err() == nil {
		start := r.clock.Now()
		actx, cancel := context.WithTimeout(ctx, every)
		l, err := r.leases.AcquireLease(actx, name, r.token, ttl)
		cancel()
		wait := every
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil
			}
			if err.Error() != lastErr {
				log.Warn("cannot reach the lease; retrying", zap.Error(err))
				lastErr = err.Error()
			}
		case l.Held:
			lastErr = ""
			// The lease ends ttl after the request began at the latest.
			until := start.Add(ttl)
			if l.Until.Before(until) {
				until = l.Until
			}
			r.hold(ctx, log, name, ttl, until, fn)
			continue
		default:
			// Try again at the holder's end, if that comes first.
			if d := l.Until.Sub(r.clock.Now()); d >= 0 && d < wait {
				wait = d + time.Millisecond
			}
		}
		if !r.sleep(ctx, wait) {
			return nil
		}
	}
	return nil
}

// hold runs fn while renewing the lease acquired until until. It returns
// when the lease is lost, fn returns, or ctx ends (releasing the lease in
// the last two cases).
func (r *Runner) hold(ctx context.Context, log *zap.Logger, name string, ttl time.Duration, until time.Time, fn func(ctx context.Context)) {
	log.Info("lease acquired: this process holds it", zap.Time("until", until))
	r.changed(name, true)
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(fctx)
	}()
	stop := func(why string, release bool) {
		cancel()
		// Reported as given up at once: fn may take a moment more to
		// close its connection, but it takes no new work once its
		// context has ended.
		r.changed(name, false)
		<-done
		if release {
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			if _, err := r.leases.ReleaseLease(rctx, name, r.token); err != nil {
				log.Warn("could not release the lease; it ends on its own", zap.Error(err))
			}
			rcancel()
		}
		log.Info("lease given up: "+why, zap.Bool("released", release))
	}
	every := ttl / 3
	// A holder that cannot renew lets go a fifth of the lease before its
	// end, so that a timer firing late on a busy machine never leaves it
	// working past the moment another process may acquire the lease.
	margin := ttl / 5
	next := r.clock.Now().Add(every)
	var lastErr string
	for {
		// Wake for the next renewal, or at the lease's end if renewals
		// keep failing: fn must have stopped before anyone else can
		// acquire the lease.
		wake := next
		if end := until.Add(-margin); end.Before(wake) {
			wake = end
		}
		c, stopWait := r.clock.After(wake.Sub(r.clock.Now()))
		select {
		case <-ctx.Done():
			stopWait()
			stop("shutting down", true)
			return
		case <-done:
			stopWait()
			stop("the function returned", true)
			// Give the others a turn before contending again.
			r.sleep(ctx, every)
			return
		case <-c:
		}
		now := r.clock.Now()
		if !now.Before(until.Add(-margin)) {
			stop("it could not be renewed before its end", false)
			return
		}
		// A renewal that has not answered by the lease's end is no
		// renewal: the call may not outlast it.
		rctx, rcancel := context.WithTimeout(ctx, until.Add(-margin).Sub(now))
		l, err := r.leases.RenewLease(rctx, name, r.token, ttl)
		rcancel()
		switch {
		case err != nil:
			if ctx.Err() != nil {
				continue // the select above releases
			}
			if err.Error() != lastErr {
				log.Warn("cannot renew the lease; retrying until it ends", zap.Error(err), zap.Time("until", until))
				lastErr = err.Error()
			}
			// Retry soon; the wait never passes the end.
			next = now.Add(every / 3)
		case !l.Held:
			stop("another process holds it ("+l.Holder+")", false)
			return
		default:
			// The lease ends ttl after the renewal started, on the
			// store's clock, which reads no earlier than now.
			lastErr = ""
			until = now.Add(ttl)
			next = now.Add(every)
		}
	}
}

// sleep waits d on the runner's clock; false when ctx ended first.
func (r *Runner) sleep(ctx context.Context, d time.Duration) bool {
	c, stop := r.clock.After(d)
	defer stop()
	select {
	case <-ctx.Done():
		return false
	case <-c:
		return true
	}
}

func (r *Runner) changed(name string, held bool) {
	if r.OnChange != nil {
		r.OnChange(name, held)
	}
}
