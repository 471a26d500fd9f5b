package notify

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/muster-ops/muster/store"
)

// Deliverer drains the durable outbox: every message a transition wrote
// to Redis is taken by exactly one process and handed to the notifiers.
// A message whose process died mid-delivery is reclaimed after the lease.
type Deliverer struct {
	st       *store.Store
	out      Notifier
	log      *zap.Logger
	consumer string
	lease    time.Duration
	// OnDeliver, when set, sees every message after its attempt (tests).
	OnDeliver func(m store.OutMessage, taken string, err error)
}

// NewDeliverer builds a Deliverer; consumer names this process.
func NewDeliverer(st *store.Store, out Notifier, log *zap.Logger, consumer string, lease time.Duration) *Deliverer {
	if log == nil {
		log = zap.NewNop()
	}
	return &Deliverer{st: st, out: out, log: log, consumer: consumer, lease: lease}
}

// Run delivers until ctx ends.
func (d *Deliverer) Run(ctx context.Context) error {
	var lastErr string
	report := func(err error) {
		if err != nil && err.Error() != lastErr && ctx.Err() == nil {
			d.log.Warn("outbox unreachable; retrying", zap.Error(err))
		}
		if err == nil && lastErr != "" {
			d.log.Info("outbox reachable again")
		}
		if err != nil {
			lastErr = err.Error()
		} else {
			lastErr = ""
		}
	}
	if err := d.st.EnsureOutbox(ctx); err != nil {
		report(err)
	}
	lastReclaim := time.Time{}
	for ctx.Err() == nil {
		if time.Since(lastReclaim) > d.lease/2 {
			lastReclaim = time.Now()
			stale, err := d.st.ReclaimOutbox(ctx, d.consumer, d.lease, 100)
			report(err)
			for _, e := range stale {
				d.deliver(ctx, e)
			}
		}
		entries, err := d.st.ReadOutbox(ctx, d.consumer, 50, time.Second)
		report(err)
		if err != nil {
			t := time.NewTimer(time.Second)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			continue
		}
		for _, e := range entries {
			d.deliver(ctx, e)
		}
	}
	return nil
}

// deliver sends one message at most once: it is taken (marked) in Redis
// first, and a message whose task closed meanwhile is dropped.
func (d *Deliverer) deliver(ctx context.Context, e store.OutboxEntry) {
	taken, err := d.st.TakeOutbox(ctx, e, d.consumer)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		// Left pending: reclaimed and retried after the lease.
		d.log.Warn("outbox take failed", zap.String("ref", e.Msg.Ref), zap.Error(err))
		return
	}
	var sendErr error
	if taken == store.TakeOK {
		_, sendErr = d.out.Notify(ctx, Message{
			Key: e.Msg.Key, Channel: e.Msg.Channel, Site: e.Msg.Site, To: e.Msg.To, Kind: e.Msg.Kind,
			Text: e.Msg.Text, Ref: e.Msg.Ref, Drill: e.Msg.Drill == "1",
		})
		if sendErr != nil {
			d.log.Warn("delivery failed", zap.String("ref", e.Msg.Ref), zap.String("channel", e.Msg.Channel),
				zap.String("to", e.Msg.To), zap.Error(sendErr))
		}
	}
	if d.OnDeliver != nil {
		d.OnDeliver(e.Msg, taken, sendErr)
	}
	if err := d.st.FinishOutbox(ctx, e.ID); err != nil && ctx.Err() == nil {
		d.log.Warn("outbox finish failed", zap.String("ref", e.Msg.Ref), zap.Error(err))
	}
}

// Drain delivers everything waiting in the outbox now, without blocking,
// and returns how many messages it handled. Tests use it to settle.
func (d *Deliverer) Drain(ctx context.Context) (int, error) {
	if err := d.st.EnsureOutbox(ctx); err != nil {
		return 0, err
	}
	n := 0
	for {
		entries, err := d.st.ReadOutbox(ctx, d.consumer, 100, -1)
		if err != nil {
			return n, err
		}
		if len(entries) == 0 {
			return n, nil
		}
		for _, e := range entries {
			d.deliver(ctx, e)
			n++
		}
	}
}
