package main

import (
	"context"
	"time"

	"github.com/muster-ops/muster/internal/lease"
	"github.com/muster-ops/muster/internal/metrics"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// watchedLeases tells the metrics whether this process holds each lease
// it asks for: the store's leases, as the adapters and the sealer use
// them, with muster_lease_held{lease} kept up to date.
type watchedLeases struct {
	lease.Leases
	m *metrics.Metrics
}

func (l watchedLeases) AcquireLease(ctx context.Context, name, token string, ttl time.Duration) (store.Lease, error) {
	lease, err := l.Leases.AcquireLease(ctx, name, token, ttl)
	l.m.SetLease(name, err == nil && lease.Held)
	return lease, err
}

func (l watchedLeases) RenewLease(ctx context.Context, name, token string, ttl time.Duration) (store.Lease, error) {
	lease, err := l.Leases.RenewLease(ctx, name, token, ttl)
	// A renewal that could not reach Redis leaves the lease to run out:
	// the runner stops its work, and so does the gauge.
	l.m.SetLease(name, err == nil && lease.Held)
	return lease, err
}

func (l watchedLeases) ReleaseLease(ctx context.Context, name, token string) (bool, error) {
	l.m.SetLease(name, false)
	return l.Leases.ReleaseLease(ctx, name, token)
}

// instrument connects a serving process's pieces to its metrics: Redis
// errors and backlog, escalation steps, every send attempt, and sends the
// outbox refused.
func (a *app) instrument(m *metrics.Metrics) {
	a.metrics = m
	a.st.Client().AddHook(m.RedisHook())
	m.WatchBacklog(func(ctx context.Context) (metrics.BacklogFigures, error) {
		b, err := a.st.Backlog(ctx)
		return metrics.BacklogFigures(b), err
	}, time.Second)
	a.disp.SetObserver(m.Send)
	a.eng.Observe = func(channels []string, result string, late time.Duration) {
		if result == "" {
			result = "failed"
		}
		m.Step(channels, result, late)
	}
}

// observeDelivery counts what the outbox refused (a paced sender's lane
// full): the dispatcher never saw those.
func (a *app) observeDelivery(d notify.Delivered) {
	if d.Outcome != notify.OutcomeRefused || a.metrics == nil {
		return
	}
	vendor := "twilio"
	if !a.twilio {
		vendor = "console"
	}
	if d.Msg.Channel == notify.Chat {
		return // chat lanes have no capacity to refuse with
	}
	a.metrics.Send(vendor, notify.OutcomeRefused)
}
