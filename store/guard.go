package store

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// A replay guard folds a chat adapter's replay check (has this signed
// request been handled already?) into the first Redis round trip the
// command makes, instead of spending a round trip of its own on it.
//
// The adapter makes a guard for the request (NewReplayGuard) and hands it
// to the command with the request (commands.Request.Replay); the command
// works on the view of the store bound to it (Guarded). The first round
// trip that view makes carries the guard's SET NX PX: a script gets the
// guard key as KEYS[2] and its TTL as a trailing ARGV, and the shared
// prelude (lua/prelude.lua) sets the key before the script body runs,
// refusing with 'replayed' when it already existed; a read pipeline gets
// the SET NX prepended and its reads are discarded on a replay. Either way
// a replayed command changes nothing and the view answers ErrReplayed,
// then and for every later call. A command that made no round trip at
// all leaves the guard pending, and the adapter settles it afterwards
// with CheckReplay.
//
// The check never fails open. When the round trip fails because Redis is
// unreachable (Health confirms it), the guard is settled from this
// process's own memory of the requests it handled (seen.go): a copy is
// refused, a new request is remembered (and journaled) and goes on to
// degraded mode. When it fails otherwise (a timeout under load, Redis up)
// the guard is settled as unknown and every later round trip of its
// command is refused: the command answers that muster is overloaded and
// the adapter refuses the request as busy; nothing goes on unchecked.

// ErrReplayed: the request whose replay guard a view of the store
// carries (Guarded) was already handled; nothing was read or changed.
var ErrReplayed = errors.New("request already handled (replay)")

// ReplayGuard is one request's replay check, settled by the first round
// trip made for it. It is safe for concurrent use.
type ReplayGuard struct {
	name string
	ttl  time.Duration

	// mu guards the fields that follow.
	mu       sync.Mutex
	state    guardState
	replayed bool
	err      error
	done     chan struct{} // closed when settled
}

type guardState int

const (
	guardPending  guardState = iota // no round trip has carried it yet
	guardInFlight                   // a round trip carries it now
	guardSettled                    // its answer is known (or unknown after an error)
)

// guardKey is the context key under which a view's round trips that do
// not go through run or read hand its guard to guardHook (carry). It
// never leaves this package: callers pass the guard to Guarded.
type guardKey struct{}

// NewReplayGuard makes a guard for one request: name is the
// namespace-relative key that remembers the request ("slack:seen:<sig>"),
// ttl how long it is remembered.
func NewReplayGuard(name string, ttl time.Duration) *ReplayGuard {
	if ttl < time.Millisecond {
		ttl = time.Millisecond
	}
	return &ReplayGuard{name: name, ttl: ttl, done: make(chan struct{})}
}

// Guarded is the view of the store for one request whose replay check
// is g: its first round trip settles g (see above), and once g found a
// replay, or could not be settled, every call of the view is refused.
// The view shares everything else with s. A nil g returns s itself.
func (s *Store) Guarded(g *ReplayGuard) *Store {
	if g == nil {
		return s
	}
	v := *s
	v.guard = g
	return &v
}

// carry is ctx for a round trip of s that goes to Redis directly, not
// through run or read: it hands s's guard to guardHook, which settles the
// guard before the round trip goes out. ctx itself when s has no guard.
func (s *Store) carry(ctx context.Context) context.Context {
	if s.guard == nil {
		return ctx
	}
	return context.WithValue(ctx, guardKey{}, s.guard)
}

func guardFrom(ctx context.Context) *ReplayGuard {
	g, _ := ctx.Value(guardKey{}).(*ReplayGuard)
	return g
}

// Settled reports whether a round trip has answered the guard.
func (g *ReplayGuard) Settled() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.state == guardSettled
}

// Replayed reports whether the guard found the request already handled.
func (g *ReplayGuard) Replayed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.replayed
}

// Err is why the guard could not be settled (Redis did not answer in
// time while it was not known to be unreachable): the request was not
// checked, so nothing of it may go on; the adapter answers busy.
func (g *ReplayGuard) Err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// Done is closed when the guard is settled.
func (g *ReplayGuard) Done() <-chan struct{} { return g.done }

// claim takes the pending guard for the caller's round trip; false when
// another round trip already took it.
func (g *ReplayGuard) claim() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state != guardPending {
		return false
	}
	g.state = guardInFlight
	return true
}

// settle records the answer of the round trip that claimed the guard. An
// error means the answer is unknown: the request is let through.
func (g *ReplayGuard) settle(replayed bool, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == guardSettled {
		return
	}
	g.state, g.replayed, g.err = guardSettled, replayed && err == nil, err
	close(g.done)
}

// take is the store's step before a round trip of s: it returns the
// guard this round trip must carry (nil when none), or ErrReplayed when an
// earlier round trip (or this process's memory) found a replay, or the
// error that left the guard unsettled. When another round trip carries
// the guard right now, it waits for its answer, so nothing runs before
// the replay is known.
func (s *Store) take(ctx context.Context) (*ReplayGuard, error) {
	g := s.guard
	if g == nil {
		return nil, nil
	}
	if g.claim() {
		if s.seen.seen(g.name) {
			g.settle(true, nil)
			return nil, ErrReplayed
		}
		return g, nil
	}
	g.mu.Lock()
	inFlight := g.state == guardInFlight
	g.mu.Unlock()
	if inFlight {
		select {
		case <-g.done:
		case <-ctx.Done():
			return nil, unavailable(ctx.Err())
		}
	}
	if g.Replayed() {
		return nil, ErrReplayed
	}
	return nil, g.Err()
}

// settled records the answer Redis gave for g: a replay, or a request
// now remembered (here too, for an outage to come).
func (s *Store) settled(g *ReplayGuard, replayed bool) {
	if !replayed {
		s.seen.remember(g.name, g.ttl)
	}
	g.settle(replayed, nil)
}

// settleFailed settles g after the round trip that carried it failed with
// err. When Redis is unreachable the process's own memory decides (and
// ErrReplayed is returned for a copy); otherwise the request is left
// unchecked: g keeps the error and nothing of its command goes on.
func (s *Store) settleFailed(ctx context.Context, g *ReplayGuard, err error) error {
	if !s.health.Confirm(ctx, err) {
		g.settle(false, unavailable(err))
		return nil
	}
	fresh, lerr := s.seen.firstSeenOffline(g.name, g.ttl)
	switch {
	case errors.Is(lerr, ErrSeenFull):
		g.settle(false, unavailable(lerr))
		return nil
	case lerr != nil:
		s.log.Error("request remembered in memory only: the journal did not take it", zap.Error(lerr))
	}
	if !fresh {
		g.settle(true, nil)
		return ErrReplayed
	}
	g.settle(false, nil)
	return nil
}

// guardCmd queues the guard's SET NX PX on a pipeline.
func (s *Store) guardCmd(ctx context.Context, p redis.Pipeliner, g *ReplayGuard) *redis.BoolCmd {
	return p.SetNX(ctx, s.Key(g.name), 1, g.ttl)
}

// read runs fn's commands as one pipelined round trip. When s carries a
// pending replay guard, its SET NX goes first in the same pipeline, and a
// replay discards the reads and answers ErrReplayed. Errors of the reads
// come back as ErrUnavailable; a missing key is each reader's business.
func (s *Store) read(ctx context.Context, fn func(p redis.Pipeliner)) error {
	g, err := s.take(ctx)
	if err != nil {
		return err
	}
	p := s.rdb.Pipeline()
	var gc *redis.BoolCmd
	if g != nil {
		gc = s.guardCmd(ctx, p, g)
	}
	fn(p)
	_, err = p.Exec(ctx)
	if errors.Is(err, redis.Nil) {
		err = nil
	}
	if g != nil {
		fresh, gerr := gc.Result()
		if gerr != nil {
			if rerr := s.settleFailed(ctx, g, gerr); rerr != nil {
				return rerr
			}
		} else {
			s.settled(g, !fresh)
			if !fresh {
				return ErrReplayed
			}
		}
	}
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// CheckReplay settles a guard that no round trip of its command carried
// (the command touched no records, or was refused before it did): one SET
// NX. It reports whether the request was a replay; a guard already
// settled answers from memory, one in flight is waited for. While Redis is
// unreachable this process's own memory answers (seen.go). An error means
// the request could not be checked (Redis up but not answering in time):
// the adapters refuse it as busy.
func (s *Store) CheckReplay(ctx context.Context, g *ReplayGuard) (bool, error) {
	if g == nil {
		return false, nil
	}
	if g.claim() {
		if s.seen.seen(g.name) {
			g.settle(true, nil)
			return true, nil
		}
		fresh, err := s.rdb.SetNX(ctx, s.Key(g.name), 1, g.ttl).Result()
		if err != nil {
			if rerr := s.settleFailed(ctx, g, err); rerr != nil {
				return true, nil
			}
			return g.Replayed(), g.Err()
		}
		s.settled(g, !fresh)
		return !fresh, nil
	}
	select {
	case <-g.Done():
	case <-ctx.Done():
		return false, unavailable(ctx.Err())
	}
	return g.Replayed(), g.Err()
}

// guardHook makes sure a guard is never skipped: a round trip of a
// guarded view that did not come through run or read (a store method
// that talks to Redis directly, with carry) first settles the guard with its own SET
// NX, and is refused with ErrReplayed on a replay. It costs that one extra
// round trip only on such paths; the command paths carry the guard in
// their first round trip instead.
type guardHook struct{ s *Store }

var _ redis.Hook = guardHook{}

func (h guardHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h guardHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if err := h.settleFirst(ctx); err != nil {
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}

func (h guardHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if err := h.settleFirst(ctx); err != nil {
			for _, c := range cmds {
				c.SetErr(err)
			}
			return err
		}
		return next(ctx, cmds)
	}
}

// settleFirst settles the pending guard ctx carries (carry) before the
// round trip goes out (the SET NX it sends finds the guard taken and
// passes through), and refuses every round trip of a view whose guard
// found a replay.
func (h guardHook) settleFirst(ctx context.Context) error {
	g := guardFrom(ctx)
	if g == nil {
		return nil
	}
	if !g.claim() {
		if g.Replayed() {
			return ErrReplayed
		}
		return g.Err()
	}
	if h.s.seen.seen(g.name) {
		g.settle(true, nil)
		return ErrReplayed
	}
	fresh, err := h.s.rdb.SetNX(ctx, h.s.Key(g.name), 1, g.ttl).Result()
	if err != nil {
		if rerr := h.s.settleFailed(ctx, g, err); rerr != nil {
			return rerr
		}
		return g.Err()
	}
	h.s.settled(g, !fresh)
	if !fresh {
		return ErrReplayed
	}
	return nil
}

// scriptKeys are a script call's KEYS and the ARGV it appends for the
// guard g (nil: none).
func (s *Store) scriptKeys(g *ReplayGuard, args []any) ([]string, []any) {
	if g == nil {
		return []string{s.prefix}, args
	}
	return []string{s.prefix, s.Key(g.name)}, append(append(make([]any, 0, len(args)+1), args...), strconv.FormatInt(g.ttl.Milliseconds(), 10))
}
