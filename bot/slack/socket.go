package slack

import (
	"context"
	"errors"
	"fmt"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"go.uber.org/zap"

	"github.com/muster-ops/muster/internal/lease"
	"github.com/muster-ops/muster/notify"
)

// runSocketLeased runs Socket Mode while this process holds the lease
// SocketLease, until ctx ends. Slack delivers each event to one of an
// app's open connections, but several replicas each holding one would
// still mean as many connections to keep and watch; with the lease the
// organization has one, and a standby replica connects within
// LeaseTTL*4/3 of the holder's death. A connection that fails for good
// (a refused token) gives the lease up; it is retried a third of the
// lease later, by whichever replica gets there first. Without a lease
// store Socket Mode simply runs here.
func (a *Adapter) runSocketLeased(ctx context.Context) error {
	if a.leases == nil {
		return a.runSocket(ctx)
	}
	run := lease.New(lease.Options{Leases: a.leases, Clock: a.clock, Token: notify.NewToken(), Logger: a.log})
	if a.onLease != nil {
		run.OnChange = func(_ string, held bool) { a.onLease(held) }
	}
	var lastErr string
	return run.RunWithLease(ctx, SocketLease, a.ttl, func(ctx context.Context) {
		err := a.runSocket(ctx)
		switch {
		case err == nil || errors.Is(err, context.Canceled):
			lastErr = ""
		case err.Error() != lastErr:
			// Logged once per distinct error: a refused token would
			// otherwise log every retry.
			a.log.Error("slack socket mode stopped; giving up the lease and retrying", zap.Error(err))
			lastErr = err.Error()
		}
	})
}

// runSocket serves Socket Mode until ctx ends: Slack pushes slash
// commands and button clicks over a WebSocket that muster opens with the
// app-level token, so no public URL is needed. Each one is acknowledged
// with the same answer the HTTP routes would write, inside the 3 seconds.
// slack-go reconnects by itself; runSocket returns when ctx ends.
func (a *Adapter) runSocket(ctx context.Context) error {
	api := slack.New(a.botTok, a.clientOptions()...)
	sm := socketmode.New(api, socketmode.OptionLog(zap.NewStdLog(a.log.Named("socketmode"))))
	errc := make(chan error, 1)
	go func() { errc <- sm.RunContext(ctx) }()
	for {
		select {
		case <-ctx.Done():
			<-errc
			return nil
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("slack socket mode: %w", err)
		case evt := <-sm.Events:
			if ctx.Err() != nil {
				// The lease was given up: leave the envelope unacknowledged
				// and Slack delivers it again to the new holder.
				continue
			}
			a.socketEvent(ctx, sm, evt)
		}
	}
}

// acker acknowledges a Socket Mode request; *socketmode.Client is one.
type acker interface {
	Ack(req socketmode.Request, payload ...any) error
}

var _ acker = (*socketmode.Client)(nil)

// socketEvent handles one Socket Mode event.
func (a *Adapter) socketEvent(ctx context.Context, sm acker, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		a.log.Info("slack socket mode connecting")
	case socketmode.EventTypeConnected:
		a.log.Info("slack socket mode connected")
	case socketmode.EventTypeInvalidAuth:
		a.log.Error("slack socket mode: the app-level token was refused")
	case socketmode.EventTypeConnectionError:
		a.log.Warn("slack socket mode connection error; reconnecting", zap.Any("detail", evt.Data))
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(slack.SlashCommand)
		if !ok || evt.Request == nil {
			return
		}
		resp := a.Slash(slashCommand(cmd))
		if err := sm.Ack(*evt.Request, resp); err != nil {
			a.log.Warn("slack socket mode ack failed", zap.Error(err))
		}
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok || evt.Request == nil {
			return
		}
		if err := sm.Ack(*evt.Request); err != nil {
			a.log.Warn("slack socket mode ack failed", zap.Error(err))
		}
		a.Interaction(cb)
	case socketmode.EventTypeEventsAPI:
		// muster subscribes to no events; acknowledge so Slack does not retry.
		if evt.Request != nil {
			_ = sm.Ack(*evt.Request)
		}
	}
	_ = ctx
}
