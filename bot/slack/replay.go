package slack

import (
	"context"
	"encoding/hex"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/muster-ops/muster/store"
)

// Slack's signature proves who sent a request and roughly when, not that
// it is new: anyone who saw a signed request (a logging proxy, a leaked
// trace) can send it again while its timestamp is inside the five-minute
// window, and VerifyRequest accepts it. Slack itself never sends a slash
// command or an interaction twice (each carries its own trigger_id), so
// the adapter remembers every signed request it handled until its
// timestamp leaves the window, and refuses a second copy with 401, like
// any other request that fails verification. Replicas share the memory
// through Redis, so a copy sent to another replica is refused too.
//
// A slash command does not spend a Redis round trip of its own on that
// memory: the adapter hands the command a replay guard (store.ReplayGuard)
// and the store sets the request's key in the command's first round trip,
// before anything changes (see store/guard.go). A command that touched no
// records has the key set afterwards. Only then is the answer written:
// 401 for a copy, as before. A button click (answered 200 before it runs)
// still checks first, with its own round trip.

// ErrReplayed means a correctly signed request was already handled.
var ErrReplayed = errors.New("slack: request already handled (replay)")

// Replays remembers signed requests. FirstSeen reports whether key is
// new, and remembers it for ttl; two concurrent calls with one key get
// true once.
type Replays interface {
	FirstSeen(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// redisKeys is the part of *store.Store the Redis replay memory uses.
type redisKeys interface {
	Client() redis.UniversalClient
	Key(parts ...string) string
}

// redisReplays keeps the memory in the store's namespace, with SET NX PX:
// one round trip, atomic across replicas, gone when the window closes.
type redisReplays struct{ st redisKeys }

var _ Replays = redisReplays{}

// FirstSeen sets muster:{ns}:slack:seen:<key> unless it exists.
func (r redisReplays) FirstSeen(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return r.st.Client().SetNX(ctx, r.st.Key("slack", "seen", key), 1, ttl).Result()
}

// replayGuards is the part of *store.Store that settles a replay guard
// no round trip of its command carried.
type replayGuards interface {
	CheckReplay(ctx context.Context, g *store.ReplayGuard) (bool, error)
}

var _ replayGuards = (*store.Store)(nil)

// replayCheckTimeout bounds the replay check; it must not eat Slack's
// three seconds. The check never fails open: while Redis is unreachable
// the store answers from this process's own memory, and when Redis is up
// but does not answer in time the request is refused as busy.
const replayCheckTimeout = time.Second

// ErrBusy: the replay check could not be made in time (Redis up but
// overloaded), so the request was refused, not run.
var ErrBusy = errors.New("slack: replay check not answered in time; request refused as busy")

// firstSeen reports whether a verified request (body, signed at the
// timestamp in its header) is new; ErrBusy when that could not be
// checked. Without a replay memory it says yes.
func (a *Adapter) firstSeen(r *http.Request, body []byte) (bool, error) {
	if a.replays == nil && a.guards == nil {
		return true, nil
	}
	key, ttl := a.replayKey(r, body)
	ctx, cancel := context.WithTimeout(r.Context(), replayCheckTimeout)
	defer cancel()
	var (
		fresh bool
		err   error
	)
	if a.guards != nil {
		var dup bool
		dup, err = a.guards.CheckReplay(ctx, store.NewReplayGuard("slack:seen:"+key, ttl))
		fresh = !dup
	} else {
		fresh, err = a.replays.FirstSeen(ctx, key, ttl)
	}
	if err != nil {
		a.log.Warn("slack replay check not answered in time; request refused as busy", zap.Error(err))
		return false, ErrBusy
	}
	return fresh, nil
}

// replayKey is the key that remembers a verified request and how long
// it must be remembered: until its timestamp leaves the window.
func (a *Adapter) replayKey(r *http.Request, body []byte) (string, time.Duration) {
	ts := r.Header.Get(headerTimestamp)
	// The key is the signature recomputed in one canonical form: the
	// header's hex may come in either case, and the same request must
	// not pass twice by changing it.
	key := hex.EncodeToString(mac(a.secret, ts, body))
	sec, _ := strconv.ParseInt(ts, 10, 64) // VerifyRequest parsed it already
	ttl := time.Unix(sec, 0).Add(maxSkew).Sub(a.clock.Now()) + time.Second
	if ttl < time.Second {
		ttl = time.Second
	}
	return key, ttl
}

// replayGuard is the guard a verified slash command carries to the store;
// nil when the adapter checks replays up front (a Replays of its own) or
// not at all.
func (a *Adapter) replayGuard(r *http.Request, body []byte) *store.ReplayGuard {
	if a.guards == nil {
		return nil
	}
	key, ttl := a.replayKey(r, body)
	return store.NewReplayGuard("slack:seen:"+key, ttl)
}

// replayed reports whether the command that carried g was a copy of a
// request already handled. A guard no round trip carried is settled here
// (one SET NX, or this process's memory while Redis is unreachable).
// busy is true when the check could not be made in time: the command
// then ran no further than its failed round trip, and the request is
// answered busy.
func (a *Adapter) replayed(ctx context.Context, g *store.ReplayGuard) (dup, busy bool) {
	if g == nil {
		return false, false
	}
	if g.Settled() {
		if err := g.Err(); err != nil {
			a.log.Warn("slack replay check not answered in time; request refused as busy", zap.Error(err))
			return false, true
		}
		return g.Replayed(), false
	}
	ctx, cancel := context.WithTimeout(ctx, replayCheckTimeout)
	defer cancel()
	dup, err := a.guards.CheckReplay(ctx, g)
	if err != nil {
		a.log.Warn("slack replay check not answered in time; request refused as busy", zap.Error(err))
		return false, true
	}
	return dup, false
}

// isForm reports whether the request says its body is a url-encoded form,
// the only body Slack sends to the HTTP routes.
func isForm(r *http.Request) bool {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && ct == "application/x-www-form-urlencoded"
}
