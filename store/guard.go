package store

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// A replay guard folds a chat adapter's replay check (has this signed
// request been handled already?) into the first Redis round trip the
// command makes, instead of spending a round trip of its own on it.
//
// The adapter puts a guard in the command's context (WithReplayGuard).
// The first round trip the store makes for that context carries the
// guard's SET NX PX: a script gets the guard key as KEYS[2] and its TTL as
// a trailing ARGV, and the shared prelude (lua/prelude.lua) sets the key
// before the script body runs, refusing with 'replayed' when it already
// existed; a read pipeline gets the SET NX prepended and its reads are
// discarded on a replay. Either way a replayed command changes nothing and
// the store answers ErrReplayed, then and for every later call with that
// context. A command that made no round trip at all leaves the guard
// pending, and the adapter settles it afterwards with CheckReplay.
//
// When Redis does not answer, the guard is settled as unknown (not a
// replay): the request goes on, as the separate check did (fail open), and
// the command says records are unavailable anyway.

// ErrReplayed: the request carrying the context's replay guard was
// already handled; nothing was read or changed.
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

// WithReplayGuard returns ctx carrying g: the store's first round trip for
// ctx (or a context derived from it) settles g.
func WithReplayGuard(ctx context.Context, g *ReplayGuard) context.Context {
	if g == nil {
		return ctx
	}
	return context.WithValue(ctx, guardKey{}, g)
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

// Err is why the guard's round trip failed (it was then let through).
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

// take is the store's step before a round trip for ctx: it returns the
// guard this round trip must carry (nil when none), or ErrReplayed when an
// earlier round trip found a replay. When another round trip carries the
// guard right now, it waits for its answer, so nothing runs before the
// replay is known.
func (s *Store) take(ctx context.Context) (*ReplayGuard, error) {
	g := guardFrom(ctx)
	if g == nil {
		return nil, nil
	}
	if g.claim() {
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
	return nil, nil
}

// guardCmd queues the guard's SET NX PX on a pipeline.
func (s *Store) guardCmd(ctx context.Context, p redis.Pipeliner, g *ReplayGuard) *redis.BoolCmd {
	return p.SetNX(ctx, s.Key(g.name), 1, g.ttl)
}

// read runs fn's commands as one pipelined round trip. When ctx carries a
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
		g.settle(!fresh, gerr)
		if gerr == nil && !fresh {
			return ErrReplayed
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
// settled answers from memory, one in flight is waited for. An error means
// Redis did not answer, and the caller decides (the adapters let the
// request through, as before).
func (s *Store) CheckReplay(ctx context.Context, g *ReplayGuard) (bool, error) {
	if g == nil {
		return false, nil
	}
	if g.claim() {
		fresh, err := s.rdb.SetNX(ctx, s.Key(g.name), 1, g.ttl).Result()
		g.settle(!fresh, err)
		if err != nil {
			return false, unavailable(err)
		}
		return !fresh, nil
	}
	select {
	case <-g.Done():
	case <-ctx.Done():
		return false, unavailable(ctx.Err())
	}
	return g.Replayed(), g.Err()
}

// guardHook makes sure a guard is never skipped: a round trip for a
// guarded context that did not come through run or read (a store method
// that talks to Redis directly) first settles the guard with its own SET
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

// settleFirst settles a pending guard of ctx before the round trip goes
// out (the SET NX it sends finds the guard taken and passes through), and
// refuses every round trip of a context whose guard found a replay.
func (h guardHook) settleFirst(ctx context.Context) error {
	g := guardFrom(ctx)
	if g == nil {
		return nil
	}
	if !g.claim() {
		if g.Replayed() {
			return ErrReplayed
		}
		return nil
	}
	fresh, err := h.s.rdb.SetNX(ctx, h.s.Key(g.name), 1, g.ttl).Result()
	g.settle(!fresh, err)
	if err == nil && !fresh {
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
