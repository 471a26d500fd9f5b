package notify

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/muster-ops/muster/internal/clock"
	"github.com/muster-ops/muster/internal/lease"
	"github.com/muster-ops/muster/store"
)

// Sealer keeps the audit chain sealed: the process that holds its lease
// (one of the organization's `muster serve` replicas) hashes and signs
// the events appended since the last seal, a few times a second, so every
// event is sealed within a second of its append while the transitions
// that append them compute no hash at all (store/seal.go).
type Sealer struct {
	seal   *store.AuditSealer
	leases lease.Leases
	clock  clock.Clock
	log    *zap.Logger
	token  string
	ttl    time.Duration
	every  time.Duration
	// OnSeal, when set, is called after each seal that sealed events.
	OnSeal func(n int)
}

// SealerOptions configure a Sealer.
type SealerOptions struct {
	Store *store.Store
	// Leases hold the sealer's lease; the store when nil (main passes the
	// store wrapped so the metrics see who holds it).
	Leases lease.Leases
	// Key signs the heads; nil leaves them unsigned (serve warns).
	Key *store.AuditKey
	// SealLog, when set, is the file every sealed head is appended to.
	SealLog string
	Clock   clock.Clock
	Logger  *zap.Logger
	// Token names this process as the lease holder; NewToken() when empty.
	Token string
	// Lease is how long the sealer's lease runs (default 10 s): a standby
	// takes over within about that long after the holder dies.
	Lease time.Duration
	// Every is how often the holder looks for new events (default 250 ms).
	Every time.Duration
}

// NewSealer builds a Sealer.
func NewSealer(o SealerOptions) *Sealer {
	s := &Sealer{seal: o.Store.NewAuditSealer(o.Key, o.SealLog), leases: o.Leases, clock: o.Clock, log: o.Logger,
		token: o.Token, ttl: o.Lease, every: o.Every}
	if s.leases == nil {
		s.leases = o.Store
	}
	if s.clock == nil {
		s.clock = clock.Real{}
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if s.token == "" {
		s.token = NewToken()
	}
	if s.ttl <= 0 {
		s.ttl = 10 * time.Second
	}
	if s.every <= 0 {
		s.every = 250 * time.Millisecond
	}
	return s
}

// Run seals while this process holds the sealer's lease, until ctx ends.
func (s *Sealer) Run(ctx context.Context) error {
	run := lease.New(lease.Options{Leases: s.leases, Clock: s.clock, Token: s.token, Logger: s.log})
	return run.RunWithLease(ctx, store.SealerLease, s.ttl, s.loop)
}

// loop seals every s.every until ctx ends (the lease is lost).
func (s *Sealer) loop(ctx context.Context) {
	var lastErr string
	for ctx.Err() == nil {
		n, err := s.seal.Seal(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil && err.Error() != lastErr:
			lastErr = err.Error()
			if errors.Is(err, store.ErrHeadTampered) {
				s.log.Error("audit chain not sealed: its head was changed outside muster; run `muster audit verify`", zap.Error(err))
			} else {
				s.log.Warn("audit chain not sealed; retrying", zap.Error(err))
			}
		case err == nil && lastErr != "":
			s.log.Info("audit chain sealed again")
			lastErr = ""
		}
		if n > 0 && s.OnSeal != nil {
			s.OnSeal(n)
		}
		c, stop := s.clock.After(s.every)
		select {
		case <-ctx.Done():
		case <-c:
		}
		stop()
	}
}
