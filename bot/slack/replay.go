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

// replayCheckTimeout bounds the replay check: when Redis does not answer,
// the request goes on (fail open) and the command says what it can; it
// must not eat Slack's three seconds.
const replayCheckTimeout = time.Second

// firstSeen reports whether a verified request (body, signed at the
// timestamp in its header) is new. Without a replay memory, or when the
// memory fails, it says yes and logs why.
func (a *Adapter) firstSeen(r *http.Request, body []byte) bool {
	if a.replays == nil {
		return true
	}
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
	ctx, cancel := context.WithTimeout(r.Context(), replayCheckTimeout)
	defer cancel()
	fresh, err := a.replays.FirstSeen(ctx, key, ttl)
	if err != nil {
		a.log.Warn("slack replay check unavailable; request accepted", zap.Error(err))
		return true
	}
	return fresh
}

// isForm reports whether the request says its body is a url-encoded form,
// the only body Slack sends to the HTTP routes.
func isForm(r *http.Request) bool {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && ct == "application/x-www-form-urlencoded"
}
