// Package store keeps muster's state in Redis: records and every state
// transition (each one MULTI/EXEC or one Lua script, so a process that
// dies halfway leaves nothing half-written), timers, and the audit stream.
// With no Redis URL it starts an embedded in-process server.
package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Sentinel errors callers branch on.
var (
	// ErrNotFound: no record with that id.
	ErrNotFound = errors.New("not found")
	// ErrWrongState: the record is not in a state that allows the change
	// (resolving a resolved incident, acking a done task).
	ErrWrongState = errors.New("wrong state")
	// ErrUnavailable wraps every error talking to Redis, so commands can
	// answer "records are unavailable" instead of a stack of driver text.
	ErrUnavailable = errors.New("records are unavailable")
)

// Store is one organization's view of Redis. It is safe for concurrent use.
type Store struct {
	rdb redis.UniversalClient
	// prefix is "muster:{namespace}:"; the hash tag keeps every key of a
	// namespace in one Redis Cluster slot, so multi-key scripts work there.
	prefix   string
	ns       string
	now      func() time.Time
	embedded *miniredis.Miniredis
	stopTTL  func()
	log      *zap.Logger
	// finisher records outbox outcomes in batches (outbox.go); shared
	// by every view of the store (Guarded).
	finisher *groupCommit[*outcome]
	// mapper remembers provider ids in batches (delivery.go).
	mapper *groupCommit[mapping]
	// health tells an outage from overload (health.go); its probe client
	// is closed with the store.
	health *Health
	probe  redis.UniversalClient
	// seen remembers the requests this process handled, for the replay
	// check while Redis is unreachable (seen.go).
	seen *seenMemory
	// guard is the replay check of the one request this view of the
	// store serves (Guarded, guard.go); nil for the shared store.
	guard *ReplayGuard
}

// expireOnWallClock makes the embedded server's TTLs (idempotency marks,
// leases) run down with the wall clock, as a real Redis does, once a
// second. (miniredis's own ClockTTL re-sorts every key on every command,
// which makes thousands of tasks crawl.)
func expireOnWallClock(m *miniredis.Miniredis) (stop func()) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				m.FastForward(now.Sub(last))
				last = now
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// Options configure Open.
type Options struct {
	// URL: redis://, rediss://, Sentinel (?master_name=...) or Cluster
	// (?addr=...&addr=... or cluster=true). Empty: embedded server.
	URL string
	// Namespace separates organizations; required.
	Namespace string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger; zap.NewNop when nil.
	Logger *zap.Logger
	// StartDown returns the store even when Redis does not answer, in
	// degraded mode until the health probes find it (muster serve starts
	// with Redis down); Open fails then otherwise.
	StartDown bool
}

// Open connects (or starts the embedded server) and checks Redis answers.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Namespace == "" {
		return nil, errors.New("store: namespace is required")
	}
	s := &Store{
		ns:     opts.Namespace,
		prefix: "muster:{" + opts.Namespace + "}:",
		now:    opts.Now,
		log:    opts.Logger,
	}
	s.finisher, s.mapper = s.newFinisher(), s.newMapper()
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if opts.URL == "" {
		m := miniredis.NewMiniRedis()
		if err := m.StartAddr("127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("start embedded redis: %w", err)
		}
		s.embedded = m
		s.stopTTL = expireOnWallClock(m)
		o := &redis.Options{Addr: m.Addr()}
		outageLimits(&o.ContextTimeoutEnabled, &o.DialTimeout, &o.DialerRetries)
		s.rdb = redis.NewClient(o)
		po := *o
		probeLimits(&po.PoolSize, &po.MaxRetries, &po.DialTimeout)
		s.probe = redis.NewClient(&po)
		s.log.Warn("no redis configured: state lives in memory only and is lost when muster stops",
			zap.String("embedded_addr", m.Addr()))
	} else {
		rdb, err := NewClient(opts.URL)
		if err != nil {
			return nil, err
		}
		s.rdb = rdb
		if s.probe, err = newClient(opts.URL, true); err != nil {
			_ = rdb.Close()
			return nil, err
		}
	}
	s.health = newHealth(s.probe, s.probeKey(), s.now, s.log.Named("health"))
	s.health.waitReplicas = waitReplicasOf(opts.URL)
	s.seen = newSeenMemory(s.now)
	s.health.OnChange(func(down bool) {
		if !down {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				s.pushSeen(ctx)
			}()
		}
	})
	s.rdb.AddHook(guardHook{s: s})
	if err := s.Ping(ctx); err != nil {
		if !opts.StartDown {
			_ = s.Close()
			return nil, err
		}
		s.health.MarkDown(err)
	}
	return s, nil
}

// NewClient builds a go-redis UniversalClient from one URL:
//
//	redis://[user:pass@]host:6379[/db]                 one server
//	rediss://...                                       the same over TLS
//	redis://host:26379?master_name=mymaster[&addr=..]  Sentinel
//	redis://host:7000?addr=host:7001&addr=host:7002    Cluster (seed nodes)
//	redis://host:7000?cluster=true                     Cluster from one seed
//
// wait_replicas=N (single server or Sentinel) confirms a transition only
// once N replicas have it.
//
// Every client honours its callers' context deadlines and dials within
// DialTimeout, once per connection (see DialerRetries).
func NewClient(rawURL string) (redis.UniversalClient, error) {
	return newClient(rawURL, false)
}

// newClient is NewClient; probe builds the health probe's client instead
// (health.go): a pool of its own, no retries, a short dial.
func newClient(rawURL string, probe bool) (redis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		return nil, fmt.Errorf("redis url %q: want redis://host:port or rediss://host:port", RedactURL(rawURL))
	}
	q := u.Query()
	// wait_replicas=N makes every transition wait until N replicas have it
	// (WAIT, same round trip), so a Sentinel failover cannot lose a write
	// muster already confirmed. Not for a Cluster.
	waitReplicas := 0
	if v := q.Get("wait_replicas"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 10 {
			return nil, fmt.Errorf("redis url %q: wait_replicas must be a number of replicas (0-10)", RedactURL(rawURL))
		}
		waitReplicas = n
		q.Del("wait_replicas")
		u.RawQuery = q.Encode()
		rawURL = u.String()
	}
	withWait := func(c redis.UniversalClient) redis.UniversalClient {
		// The probe sends its own WAIT (Health.Probe).
		if waitReplicas > 0 && !probe {
			c.AddHook(WaitReplicasHook(c, waitReplicas, WaitReplicasTimeout))
		}
		return c
	}
	switch {
	case q.Has("master_name"):
		// sentinel_username and sentinel_password authenticate to the
		// Sentinels (as the userinfo does); go-redis knows only the
		// userinfo form, so they are taken off here.
		sentinelUser, sentinelPass := q.Get("sentinel_username"), q.Get("sentinel_password")
		q.Del("sentinel_username")
		q.Del("sentinel_password")
		u.RawQuery = q.Encode()
		o, err := redis.ParseFailoverURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("redis sentinel url %q: %w", RedactURL(rawURL), err)
		}
		if sentinelUser != "" {
			o.SentinelUsername = sentinelUser
		}
		if sentinelPass != "" {
			o.SentinelPassword = sentinelPass
		}
		outageLimits(&o.ContextTimeoutEnabled, &o.DialTimeout, &o.DialerRetries)
		if probe {
			probeLimits(&o.PoolSize, &o.MaxRetries, &o.DialTimeout)
		}
		return withWait(redis.NewFailoverClient(o)), nil
	case q.Has("addr") || q.Get("cluster") == "true":
		if waitReplicas > 0 {
			return nil, fmt.Errorf("redis url %q: wait_replicas is for a single server or Sentinel, not a Cluster", RedactURL(rawURL))
		}
		q.Del("cluster")
		u.RawQuery = q.Encode()
		o, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("redis cluster url %q: %w", RedactURL(rawURL), err)
		}
		outageLimits(&o.ContextTimeoutEnabled, &o.DialTimeout, &o.DialerRetries)
		if probe {
			probeLimits(&o.PoolSize, &o.MaxRetries, &o.DialTimeout)
		}
		// Find a promoted replica within about a second (failover.go).
		o.ClusterStateReloadInterval = ClusterReload
		return followFailover(redis.NewClusterClient(o)), nil
	default:
		o, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("redis url %q: %w", RedactURL(rawURL), err)
		}
		outageLimits(&o.ContextTimeoutEnabled, &o.DialTimeout, &o.DialerRetries)
		if probe {
			probeLimits(&o.PoolSize, &o.MaxRetries, &o.DialTimeout)
		}
		return withWait(redis.NewClient(o)), nil
	}
}

// Client limits for a Redis that stops answering. go-redis by default
// dials for 5 s, dials 5 times per connection and retries each command 3
// times, and ignores context deadlines on the socket: a dead host held a
// command for 20 s or more, and even a refused connection cost about 2 s.
// muster's clients honour their callers' context deadlines
// (ContextTimeoutEnabled: a deadline bounds dials, reads, writes and the
// retry backoff), dial for at most DialTimeout, and dial once per
// connection (DialerRetries; the command-level retries still try again),
// unless the URL sets dial_timeout or dialer_retries. With the per-command
// deadline (commands.CommandTimeout) a command answers "records are
// unavailable" within its budget.
const (
	DialTimeout   = 2 * time.Second
	DialerRetries = 1
)

// outageLimits applies the limits above to one client's options.
func outageLimits(contextTimeout *bool, dialTimeout *time.Duration, dialerRetries *int) {
	*contextTimeout = true
	if *dialTimeout == 0 {
		*dialTimeout = DialTimeout
	}
	if *dialerRetries == 0 {
		*dialerRetries = DialerRetries
	}
}

// waitReplicasOf is a URL's wait_replicas (0 when none or bad; NewClient
// refuses a bad one).
func waitReplicasOf(rawURL string) int {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(u.Query().Get("wait_replicas"))
	return n
}

// WaitReplicasTimeout is how long a transition waits for wait_replicas
// replicas to confirm it: well inside a command's budget (2 s), even
// twice (a script not yet loaded waits once for its EVALSHA and once for
// its EVAL), so a replica that does not confirm is answered "saved, not
// yet confirmed" rather than a command past its deadline.
const WaitReplicasTimeout = 700 * time.Millisecond

// probeLimits make a client the health probe's: two connections of its
// own, no retries (a probe that fails says so), a dial within the probe's
// time.
func probeLimits(poolSize, maxRetries *int, dialTimeout *time.Duration) {
	*poolSize, *maxRetries, *dialTimeout = 2, -1, ProbeTimeout
}

// RedactURL hides every password in a Redis URL, so it can appear in
// errors and logs: the userinfo's (a Sentinel URL's is the Sentinel's)
// and the password and sentinel_password query parameters (a Sentinel
// URL's password= is the data nodes'). A URL that does not parse is not
// shown at all.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparseable redis url>"
	}
	q := u.Query()
	masked := false
	for name := range q {
		if strings.Contains(strings.ToLower(name), "password") {
			q.Set(name, "xxxxx")
			masked = true
		}
	}
	if masked {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(s.carry(ctx)).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// Close closes the connection and stops the embedded server, if any.
func (s *Store) Close() error {
	err := s.rdb.Close()
	if s.probe != nil {
		_ = s.probe.Close()
	}
	if s.stopTTL != nil {
		s.stopTTL()
	}
	if s.embedded != nil {
		s.embedded.Close()
	}
	return err
}

// Embedded reports whether state lives in the in-process server.
func (s *Store) Embedded() bool { return s.embedded != nil }

// Addr is the embedded server's address (empty when not embedded).
func (s *Store) Addr() string {
	if s.embedded == nil {
		return ""
	}
	return s.embedded.Addr()
}

// Namespace is the organization's key namespace.
func (s *Store) Namespace() string { return s.ns }

// Client exposes the Redis client for the packages that build on the
// store's keys (the escalation engine, the outbox).
func (s *Store) Client() redis.UniversalClient { return s.rdb }

// Key returns the full Redis key for a namespace-relative name.
func (s *Store) Key(parts ...string) string { return s.prefix + strings.Join(parts, ":") }

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.now() }

// DeleteAll removes every key of the namespace. Tests use it to clean up.
func (s *Store) DeleteAll(ctx context.Context) error {
	// SCAN per master so it works on a Cluster too.
	scan := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, s.prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			return err
		}
		for len(keys) > 0 {
			n := min(len(keys), 500)
			if err := c.Unlink(ctx, keys[:n]...).Err(); err != nil {
				return err
			}
			keys = keys[n:]
		}
		return nil
	}
	switch c := s.rdb.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, scan)
	case *redis.Client:
		return scan(ctx, c)
	default:
		return fmt.Errorf("delete all: unsupported client %T", s.rdb)
	}
}

// unavailable marks an error as Redis being out of reach (or misbehaving)
// rather than a domain answer.
func unavailable(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) || errors.Is(err, ErrReplayed) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// fromMicro is fromMS for microseconds.
func fromMicro(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v)
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}
