package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Leases make one replica of many the holder of something there must be
// one of per organization: Slack's Socket Mode connection, the Discord
// gateway session. A holder renews its lease well before it ends; when it
// dies, the lease runs out and another replica acquires it. Each holder
// names itself with a token (notify.NewToken), and only that token may
// renew or release the lease, so a holder presumed dead cannot extend or
// drop its successor's lease. internal/lease runs a function under a lease.
//
// A lease's end is on the store's clock (Options.Now), as the engine's
// timer claims are, so tests move it with a fake clock.

var (
	leaseAcquireScript = loadScript("lease_acquire")
	leaseRenewScript   = loadScript("lease_renew")
	leaseReleaseScript = loadScript("lease_release")
)

// Lease says who holds a named lease and until when.
type Lease struct {
	// Held reports whether the caller's token holds the lease.
	Held bool
	// Holder is the holding token ("" when nobody holds it).
	Holder string
	// Until is when the holder's lease ends unless renewed.
	Until time.Time
}

// leaseBackstop is how long after its end Redis drops a lease key on its
// own (real time), only to clean up after holders long gone.
func leaseBackstop(ttl time.Duration) time.Duration { return 2*ttl + time.Minute }

// AcquireLease takes the lease name for token for ttl if it is free (no
// holder, or the holder's lease has ended), or extends it if token holds
// it already. Lease.Held says whether it did; otherwise Lease names the
// holder and when their lease ends.
func (s *Store) AcquireLease(ctx context.Context, name, token string, ttl time.Duration) (Lease, error) {
	return s.lease(ctx, leaseAcquireScript, name, token, ttl)
}

// RenewLease extends token's lease by ttl from now, only if token still
// holds it. Lease.Held false means the lease was lost (another replica
// took it after it ran out): the caller must stop what it holds.
func (s *Store) RenewLease(ctx context.Context, name, token string, ttl time.Duration) (Lease, error) {
	return s.lease(ctx, leaseRenewScript, name, token, ttl)
}

// ReleaseLease frees the lease if token holds it, so another replica can
// take over at once. It reports whether token held it.
func (s *Store) ReleaseLease(ctx context.Context, name, token string) (bool, error) {
	v, err := s.run(ctx, leaseReleaseScript, name, token)
	if err != nil {
		return false, err
	}
	return toInt(v) == 1, nil
}

// LeaseHolder reads who holds the lease name ("" when nobody does or the
// lease has ended).
func (s *Store) LeaseHolder(ctx context.Context, name string) (Lease, error) {
	v, err := s.rdb.HMGet(s.carry(ctx), s.Key("lease", name), "token", "until").Result()
	if err != nil {
		return Lease{}, unavailable(err)
	}
	l := Lease{Holder: toString(v[0])}
	if u, err := strconv.ParseInt(toString(v[1]), 10, 64); err == nil {
		l.Until = fromMS(u)
	}
	if l.Holder != "" && !l.Until.After(s.now()) {
		l.Holder = ""
	}
	return l, nil
}

func (s *Store) lease(ctx context.Context, sc *redis.Script, name, token string, ttl time.Duration) (Lease, error) {
	if name == "" || token == "" || ttl <= 0 {
		return Lease{}, errors.New("lease: name, token and a positive ttl are required")
	}
	v, err := s.run(ctx, sc, name, token, ms(s.now()), ttl.Milliseconds(), leaseBackstop(ttl).Milliseconds())
	if err != nil {
		return Lease{}, err
	}
	r, ok := v.([]any)
	if !ok || len(r) != 3 {
		return Lease{}, unavailable(fmt.Errorf("lease %s: unexpected reply %v", name, v))
	}
	until, err := strconv.ParseInt(toString(r[2]), 10, 64)
	if err != nil {
		return Lease{}, unavailable(fmt.Errorf("lease %s: bad end %v", name, r[2]))
	}
	return Lease{Held: toInt(r[0]) == 1, Holder: toString(r[1]), Until: fromMS(until)}, nil
}
