package configs

import (
	"fmt"
	"reflect"
	"sync/atomic"
)

// Current gives the configuration in force. A *Config is fixed; a *Live
// follows reloads. Every part of muster that reads the configuration
// while it runs (commands, the escalation engine, hand-overs, the chat
// and SMS surfaces) asks its Current for each command or step, so a
// reload takes effect for the next one without a restart.
type Current interface {
	Current() *Config
}

// Current returns c itself: a configuration that never changes.
func (c *Config) Current() *Config { return c }

// Live is the configuration a running muster serves, swapped whole by a
// reload (SIGHUP). Readers never see a half-applied one.
type Live struct {
	p atomic.Pointer[Config]
}

// NewLive starts a Live at c.
func NewLive(c *Config) *Live {
	l := &Live{}
	l.p.Store(c)
	return l
}

// Current returns the configuration in force.
func (l *Live) Current() *Config { return l.p.Load() }

// Person finds a person in the configuration in force.
func (l *Live) Person(id string) (*Person, bool) { return l.Current().Person(id) }

// Recipient finds a message's recipient (a person or "contact:<id>") in
// the configuration in force.
func (l *Live) Recipient(id string) (*Person, bool) { return l.Current().Recipient(id) }

// Replace puts next in force if it changes nothing that only a restart
// can apply (RestartOnly); otherwise it keeps the old one and says which
// settings differ.
func (l *Live) Replace(next *Config) error {
	if diff := RestartOnly(l.Current(), next); len(diff) > 0 {
		return fmt.Errorf("%v changed: restart muster to apply them; the configuration in force is unchanged", diff)
	}
	l.p.Store(next)
	return nil
}

// RestartOnly lists the settings that differ between old and next and
// that a running process cannot take up: where it keeps its state and
// listens, which platforms it connects, how it sends (pacing is shared
// with other replicas through Redis), where its secrets come from.
// Everything else (people, sites, rosters, covers, plans, policies,
// categories, drills) takes effect on reload.
func RestartOnly(old, next *Config) []string {
	var diff []string
	check := func(name string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			diff = append(diff, name)
		}
	}
	check("namespace", old.Namespace, next.Namespace)
	check("timezone", old.Timezone, next.Timezone)
	check("redis", old.Redis, next.Redis)
	check("server", old.Server, next.Server)
	check("engine", old.Engine, next.Engine)
	check("slack", old.Slack, next.Slack)
	check("discord", old.Discord, next.Discord)
	check("twilio", old.Twilio, next.Twilio)
	check("records", old.Records, next.Records)
	return diff
}
