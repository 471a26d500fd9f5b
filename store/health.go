package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Slow is not down. Degraded mode (commands/degraded.go: a trigger sent
// directly and journaled) is for a Redis that cannot be reached, and only
// for that: a command that ran past its deadline because this process or
// Redis is overloaded is answered "overloaded, try again", never taken
// down the second path, which sends outside the paced outbox.
//
// Health tells the two apart. It probes Redis on a client of its own (a
// connection that the commands' pool, however congested, does not share):
// a write and a read on the organization's own keys, every ProbeInterval.
// Redis counts as unreachable when
//
//   - a probe (or a command, confirmed at once by a probe) fails with a
//     refused, reset or closed connection or a failed dial, or Redis says
//     it cannot serve the organization's slot (CLUSTERDOWN, MASTERDOWN,
//     LOADING); or
//   - DownAfter consecutive probes got no answer within ProbeTimeout (a
//     frozen or black-holed host, whose connections hang).
//
// A probe that succeeds makes it reachable again. A timeout of a command
// is never evidence of an outage by itself.

// Probe timing.
const (
	// ProbeTimeout bounds one probe: a write and a read.
	ProbeTimeout = time.Second
	// ProbeInterval is the time between two probes while Redis answers.
	ProbeInterval = time.Second
	// ProbeIntervalDown is the time between two probes while it does
	// not, so muster is ready within about this long of Redis returning.
	ProbeIntervalDown = 250 * time.Millisecond
	// DownAfter consecutive probes without an answer mean an outage.
	DownAfter = 3
)

// Health is what this process knows about Redis being reachable. It is
// safe for concurrent use.
type Health struct {
	probe redis.UniversalClient
	key   string
	now   func() time.Time
	log   *zap.Logger
	wake  chan struct{}
	// waitReplicas is the URL's wait_replicas: a probe's write must reach
	// that many replicas within ProbeTimeout/2.
	waitReplicas int

	// mu guards the fields that follow.
	mu     sync.Mutex
	down   bool
	reason string
	since  time.Time
	fails  int
	subs   []func(down bool)
	// probing is the probe in flight, shared by concurrent Confirms.
	probing chan struct{}
	lastErr error
}

func newHealth(probe redis.UniversalClient, key string, now func() time.Time, log *zap.Logger) *Health {
	return &Health{probe: probe, key: key, now: now, log: log, wake: make(chan struct{}, 1), since: now()}
}

// Down reports whether Redis is unreachable (degraded mode).
func (h *Health) Down() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.down
}

// Reason says in one line why Redis is unreachable ("" while it is not).
func (h *Health) Reason() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.down {
		return ""
	}
	return h.reason
}

// OnChange calls fn with the current state now and on every change
// (degraded or not); the metrics follow it.
func (h *Health) OnChange(fn func(down bool)) {
	h.mu.Lock()
	h.subs = append(h.subs, fn)
	down := h.down
	h.mu.Unlock()
	fn(down)
}

// set records the outcome of one probe.
func (h *Health) set(err error) {
	h.mu.Lock()
	was := h.down
	h.lastErr = err
	switch {
	case err == nil:
		h.fails, h.down = 0, false
	case Unreachable(err):
		h.fails++
		h.down, h.reason = true, "redis unreachable: "+oneLine(err)
	case answered(err):
		// Redis answered, if only to refuse: reachable, not ready.
		h.fails, h.down = 0, false
	default:
		h.fails++
		if h.fails >= DownAfter {
			h.down, h.reason = true, fmt.Sprintf("redis unreachable: %d probes in a row had no answer within %v: %s", h.fails, ProbeTimeout, oneLine(err))
		}
	}
	now, subs, reason := h.down, append([]func(bool){}, h.subs...), h.reason
	if now != was {
		h.since = h.now()
	}
	h.mu.Unlock()
	if now == was {
		return
	}
	if now {
		h.log.Error("degraded mode: redis is unreachable; plan triggers go out directly and are journaled", zap.String("reason", reason))
	} else {
		h.log.Info("redis answers again; degraded mode ends")
	}
	for _, fn := range subs {
		fn(now)
	}
}

// MarkDown puts the process in degraded mode from the start (serve found
// Redis unreachable at start), until a probe succeeds.
func (h *Health) MarkDown(err error) {
	h.mu.Lock()
	was := h.down
	h.down, h.fails, h.since = true, DownAfter, h.now()
	h.reason = "redis unreachable since start: " + oneLine(err)
	subs, reason := append([]func(bool){}, h.subs...), h.reason
	h.mu.Unlock()
	if was {
		return
	}
	h.log.Error("degraded mode: redis is unreachable; plan triggers go out directly and are journaled", zap.String("reason", reason))
	for _, fn := range subs {
		fn(true)
	}
}

// Probe runs one probe on the health client: a write and a read of a key
// of the organization's own (hash-tagged) keys, within ProbeTimeout. Its
// error says why not; it does not change the state (Check does).
func (h *Health) Probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	stamp := strconv.FormatInt(time.Now().UnixNano(), 10)
	var (
		get  *redis.StringCmd
		wait *redis.Cmd
	)
	_, err := h.probe.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, h.key, stamp, time.Minute)
		if h.waitReplicas > 0 {
			wait = p.Do(ctx, "WAIT", h.waitReplicas, (ProbeTimeout / 2).Milliseconds())
		}
		get = p.Get(ctx, h.key)
		return nil
	})
	if err != nil {
		return err
	}
	if wait != nil {
		if n, _ := wait.Int(); n < h.waitReplicas {
			return fmt.Errorf("%w: %d of %d replicas within %v", ErrNotReplicated, n, h.waitReplicas, ProbeTimeout/2)
		}
	}
	if v := get.Val(); v != stamp {
		return fmt.Errorf("probe read back %q, wrote %q", v, stamp)
	}
	return nil
}

// Check probes now and records the outcome. Concurrent Checks share one
// probe.
func (h *Health) Check(ctx context.Context) error {
	h.mu.Lock()
	if c := h.probing; c != nil {
		h.mu.Unlock()
		select {
		case <-c:
		case <-ctx.Done():
			return ctx.Err()
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.lastErr
	}
	c := make(chan struct{})
	h.probing = c
	h.mu.Unlock()
	err := h.Probe(context.WithoutCancel(ctx))
	h.set(err)
	h.mu.Lock()
	h.probing = nil
	h.mu.Unlock()
	close(c)
	return err
}

// Confirm reports whether err, from a command's round trip, means Redis
// is unreachable: yes when it already is; otherwise only for an error
// that looks like one (refused, reset, failed dial) and a probe that
// confirms it at once. A timeout is not confirmed here: the background
// probes decide that after DownAfter of their own.
func (h *Health) Confirm(ctx context.Context, err error) bool {
	if h.Down() {
		return true
	}
	if err == nil || !Unreachable(err) {
		return false
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ProbeTimeout)
	defer cancel()
	_ = h.Check(ctx)
	return h.Down()
}

// Poke asks the background loop for a probe now.
func (h *Health) Poke() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Run probes until ctx ends: every ProbeInterval while Redis answers,
// every ProbeIntervalDown while it does not.
func (h *Health) Run(ctx context.Context) error {
	for {
		_ = h.Check(ctx)
		every := ProbeInterval
		if h.Down() {
			every = ProbeIntervalDown
		}
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		case <-h.wake:
			t.Stop()
		}
	}
}

// Unreachable reports whether err says Redis cannot be reached (as
// opposed to being slow, or answering with an error): a refused, reset or
// closed connection, a dial that failed other than by timing out, or
// Redis saying it cannot serve the slot (CLUSTERDOWN, MASTERDOWN,
// LOADING).
func Unreachable(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) || errors.Is(err, redis.ErrClosed) {
		return false
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" && !op.Timeout() {
		return true
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return true
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		msg := rerr.Error()
		return strings.HasPrefix(msg, "CLUSTERDOWN") || strings.HasPrefix(msg, "MASTERDOWN") || strings.HasPrefix(msg, "LOADING")
	}
	return false
}

// NotSent reports whether err says a command did not reach Redis: the
// connection for it could not be made (refused, no route, a failed
// dial). A reset, closed or broken connection is not such an error: the
// command may have run before it broke.
func NotSent(err error) bool {
	if err == nil {
		return false
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH)
}

// answered reports whether err is Redis answering, if only to refuse
// (NOREPLICAS, READONLY, wait_replicas not met): Redis is reachable.
func answered(err error) bool {
	if errors.Is(err, ErrNotReplicated) {
		return true
	}
	var rerr redis.Error
	return errors.As(err, &rerr) && !Unreachable(err)
}

// oneLine is err's text on one line, without the store's own "records
// are unavailable" wrapping.
func oneLine(err error) string {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	return strings.TrimPrefix(msg, ErrUnavailable.Error()+": ")
}

// Health is the store's view of Redis being reachable.
func (s *Store) Health() *Health { return s.health }

// probeKey is the health probe's key for this process: the namespace's
// hash tag (so it lives on the organization's slot) and the host.
func (s *Store) probeKey() string {
	host, _ := os.Hostname()
	return s.Key("health", host+"-"+strconv.Itoa(os.Getpid()))
}

// Ready is /readyz's check: a write and a read on the organization's own
// keys within ProbeTimeout, through the health probe (it also updates the
// degraded state). The error is one line that says why not: Redis down,
// the organization's slot without a master, writes refused (NOREPLICAS),
// wait_replicas not met, or no answer in time.
func (s *Store) Ready(ctx context.Context) error {
	err := s.health.Check(ctx)
	if err == nil {
		// The probe has connections of its own. The commands' pool, after
		// failing to dial as many times as it has connections, answers
		// with its last dial error until its own retry (once a second)
		// gets through: ready only once a read through it works too.
		rctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
		defer cancel()
		if perr := s.rdb.Get(rctx, s.probeKey()).Err(); perr != nil && !errors.Is(perr, redis.Nil) {
			return errors.New("redis answers, but this process has not reconnected to it yet: " + oneLine(perr))
		}
		return nil
	}
	_, cluster := s.rdb.(*redis.ClusterClient)
	var rerr redis.Error
	msg := oneLine(err)
	switch {
	case errors.Is(err, ErrNotReplicated):
		return errors.New("wait_replicas not met: " + msg)
	case errors.As(err, &rerr) && strings.HasPrefix(msg, "NOREPLICAS"):
		return errors.New("redis refuses writes: " + msg)
	case errors.As(err, &rerr) && strings.HasPrefix(msg, "CLUSTERDOWN"):
		return errors.New("the organization's cluster slot has no master: " + msg)
	case cluster && Unreachable(err):
		return errors.New("the master of the organization's cluster slot is unreachable: " + msg)
	case Unreachable(err):
		return errors.New("redis unreachable: " + msg)
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		if reason := s.health.Reason(); reason != "" {
			return errors.New(reason)
		}
		return fmt.Errorf("redis did not answer a write and a read within %v: %s", ProbeTimeout, msg)
	}
	return errors.New("redis refused the readiness write: " + msg)
}

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
