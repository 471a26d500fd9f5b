package main

import (
	"context"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
)

// loops are the process's background loops (the HTTP listener, the
// engine, the outbox, the sealer, hand-overs, reminders, the chat
// platforms, reload), started together and stopped together: they run
// under one errgroup whose context ends when the context the process was
// given does (SIGINT or SIGTERM), when stop is called, or when a loop
// that the process cannot do without (must) fails. wait returns once
// every loop has stopped.
type loops struct {
	ctx    context.Context
	cancel context.CancelFunc
	g      *errgroup.Group
	log    *zap.Logger
}

func newLoops(ctx context.Context, log *zap.Logger) *loops {
	ctx, cancel := context.WithCancel(ctx)
	g, gctx := errgroup.WithContext(ctx)
	return &loops{ctx: gctx, cancel: cancel, g: g, log: log}
}

// must runs fn until the loops stop; an error from it stops them all
// and is what wait returns (the HTTP listener: a process nobody can
// reach must not go on as if it could).
func (l *loops) must(fn func(context.Context) error) {
	l.g.Go(func() error { return fn(l.ctx) })
}

// keep runs fn until the loops stop. An error it returns while the others
// run is logged as what stopped, and stops only fn: a chat platform that
// cannot connect leaves muster serving the rest, as every loop but the
// listener did before they shared a lifecycle.
func (l *loops) keep(what string, fn func(context.Context) error) {
	l.g.Go(func() error {
		if err := fn(l.ctx); err != nil && l.ctx.Err() == nil {
			l.log.Error(what+" stopped", zap.Error(err))
		}
		return nil
	})
}

// wait blocks until every loop has stopped and returns the first error
// of a must loop.
func (l *loops) wait() error {
	err := l.g.Wait()
	l.cancel()
	return err
}

// stop ends the loops and waits for them.
func (l *loops) stop() error {
	l.cancel()
	return l.wait()
}
