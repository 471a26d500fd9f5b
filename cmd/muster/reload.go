package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/muster-ops/muster/configs"
)

// reloadOnHangup catches SIGHUP from now on and returns the loop that
// re-reads the configuration on each one until its ctx ends (SIGHUP is
// caught before the loop starts, so one sent as soon as muster says it
// serves never kills it). A valid configuration is in force for the next
// command and step; an invalid one is logged with every problem and the
// one in force stays.
func (a *app) reloadOnHangup() func(context.Context) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	return func(ctx context.Context) error {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-hup:
				_ = a.reload(ctx)
			}
		}
	}
}

// reload reads the configuration file again and puts it in force if it
// is valid and changes nothing only a restart applies. The outcome is
// logged, counted in muster_config_last_reload_successful, and, when the
// new configuration is in force, recorded in the audit log.
func (a *app) reload(ctx context.Context) error {
	at := a.clock.Now()
	err := a.replaceConfig(ctx)
	if a.metrics != nil {
		a.metrics.ConfigReloaded(err == nil, at)
	}
	return err
}

func (a *app) replaceConfig(ctx context.Context) error {
	if a.cfgPath == "" {
		err := errors.New("no configuration file to reload: muster runs on the embedded example")
		a.log.Error("configuration reload failed", zap.Error(err))
		return err
	}
	next, err := configs.Load(a.cfgPath)
	if err != nil {
		var probs configs.Errors
		if errors.As(err, &probs) {
			lines := make([]string, len(probs))
			for i, p := range probs {
				lines[i] = p.String()
			}
			a.log.Error("configuration reload failed; the configuration in force stays",
				zap.String("file", a.cfgPath), zap.Strings("problems", lines))
		} else {
			a.log.Error("configuration reload failed; the configuration in force stays",
				zap.String("file", a.cfgPath), zap.Error(err))
		}
		return err
	}
	if err := a.live.Replace(next); err != nil {
		a.log.Error("configuration reload refused", zap.String("file", a.cfgPath), zap.Error(err))
		return err
	}
	if err := auditConfig(ctx, a.st, next, a.cfgPath); err != nil {
		// In force already; the record follows on the next reload.
		a.log.Warn("configuration reloaded but not recorded in the audit log", zap.Error(err))
	}
	for _, f := range a.reloaded {
		f(ctx)
	}
	a.log.Info("configuration reloaded", zap.String("file", a.cfgPath), zap.String("organization", next.Organization),
		zap.Int("people", len(next.People)), zap.Int("rosters", len(next.Rosters)), zap.Int("plans", len(next.Plans)))
	return nil
}
