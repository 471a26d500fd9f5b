// Package notify is everything that goes out of muster: chat posts, SMS
// and voice calls, and the escalation engine that decides when.
package notify

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Channels a message can go out on.
const (
	Chat  = "chat"
	SMS   = "sms"
	Voice = "voice"
)

// Message is one thing to tell someone.
type Message struct {
	// ID is the outbox entry the message comes from, the same on every
	// retry and takeover; empty for a message sent directly (degraded
	// mode). With several chat surfaces, the Dispatcher remembers under it
	// which surfaces took the message.
	ID string
	// Key identifies the send for idempotency (task, step, channel); a
	// retried step with the same key is never sent twice.
	Key string
	// Channel is Chat, SMS or Voice.
	Channel string
	// Site is set for posts to a site's channel; To for a person.
	Site string
	To   string
	// Kind says what the message is: incident, broadcast, task,
	// escalation, unanswered, handover, update.
	Kind string
	// Text is the plain text, with "DRILL — " first in drills.
	Text string
	// Ref is the record the message is about (INC-4, T-17, A-3), so chat
	// surfaces can render a card with buttons and keep it current.
	Ref   string
	Drill bool
	// MaybeSent, when not zero, says an earlier attempt may have sent the
	// message, at this time or later, without its outcome being recorded
	// (store.OutboxEntry.Unsure): a provider without idempotency keys
	// looks for it before sending again.
	MaybeSent time.Time
}

// Notifier delivers messages. retry reports whether a failed delivery
// might succeed if tried again (a timeout, a 429, a 5xx); false means it
// never will (an invalid number, a revoked token).
type Notifier interface {
	Notify(ctx context.Context, m Message) (retry bool, err error)
}

// NotifierFunc adapts a function to Notifier.
type NotifierFunc func(ctx context.Context, m Message) (bool, error)

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, m Message) (bool, error) { return f(ctx, m) }

// Named is a chat surface with a stable name ("slack", "discord",
// "console"): the Dispatcher records under it which surfaces took a
// message, so the name must be the same in every process and release.
type Named interface {
	Name() string
}

// Dispatcher routes each message to the notifiers of its channel: every
// connected chat platform gets chat messages; SMS and voice have one
// provider each.
type Dispatcher struct {
	log *zap.Logger
	// mu guards the fields that follow.
	mu    sync.RWMutex
	chats []surface
	sms   Notifier
	voice Notifier
	st    Surfaces
	// observe, when set, sees every attempt on every surface or provider.
	observe func(vendor, outcome string)
}

// surface is one chat surface and the name its deliveries are recorded
// under.
type surface struct {
	name string
	n    Notifier
}

// NewDispatcher returns a dispatcher with no notifiers.
func NewDispatcher(log *zap.Logger) *Dispatcher {
	if log == nil {
		log = zap.NewNop()
	}
	return &Dispatcher{log: log}
}

// AddChat adds a chat surface (Slack, Discord, the console). It is named
// by its Name when it implements Named, else by its position ("chat-1"
// is the second added).
func (d *Dispatcher) AddChat(n Notifier) {
	d.mu.Lock()
	defer d.mu.Unlock()
	pos := strconv.Itoa(len(d.chats))
	name := "chat-" + pos
	if nn, ok := n.(Named); ok && nn.Name() != "" {
		name = nn.Name()
	}
	for _, c := range d.chats {
		if c.name == name {
			name += "-" + pos
			break
		}
	}
	d.chats = append(d.chats, surface{name: name, n: n})
}

// SetStore lets the dispatcher remember which chat surfaces took each
// outbox message, so that with several surfaces a message is delivered
// once on each (see Notify). Without it, a chat message counts as
// delivered when any surface took it.
func (d *Dispatcher) SetStore(st Surfaces) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.st = st
}

// SetSMS sets the SMS provider.
func (d *Dispatcher) SetSMS(n Notifier) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sms = n
}

// SetVoice sets the voice provider.
func (d *Dispatcher) SetVoice(n Notifier) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.voice = n
}

// SetObserver has observe called after every attempt to deliver a
// message on one surface or provider: vendor is the surface's name
// ("slack", "discord", "console") or "twilio" for SMS and voice (the
// provider's name when it has one), outcome one of the Outcome values
// (sent, retry, failed, dropped). The metrics count sends with it.
func (d *Dispatcher) SetObserver(observe func(vendor, outcome string)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.observe = observe
}

// attempt runs one notifier and tells the observer how it went.
func (d *Dispatcher) attempt(ctx context.Context, vendor string, n Notifier, m Message) (bool, error) {
	retry, err := n.Notify(ctx, m)
	d.mu.RLock()
	observe := d.observe
	d.mu.RUnlock()
	if observe != nil {
		outcome := OutcomeSent
		switch {
		case errors.Is(err, ErrStale):
			outcome = OutcomeDropped
		case err != nil && retry:
			outcome = OutcomeRetry
		case err != nil:
			outcome = OutcomeFailed
		}
		observe(vendor, outcome)
	}
	return retry, err
}

// providerName is how the observer names an SMS or voice provider.
func providerName(n Notifier) string {
	if nn, ok := n.(Named); ok && nn.Name() != "" {
		return nn.Name()
	}
	return "twilio"
}

// ErrNoProvider: nothing is configured to deliver that channel.
var ErrNoProvider = errors.New("no provider for this channel")

// Notify delivers m on its channel.
//
// A chat message goes to every chat surface, once each. With one surface
// its answer is the surface's. A surface that answers ErrStale (the task
// closed before its post went out) has nothing to post; the message is
// ErrStale when no surface took it. With several, the dispatcher records in
// the store each surface that took the message (by m.ID) and asks only
// the others, so a retry neither loses one surface's copy nor posts
// another's twice: it reports retry when any surface failed in a way
// that may pass, and success when every surface took the message, or
// when those that did not never will (logged). A message without an ID,
// or a dispatcher without a store, has nothing to remember surfaces by:
// it counts as delivered when any surface took it.
func (d *Dispatcher) Notify(ctx context.Context, m Message) (bool, error) {
	d.mu.RLock()
	chats, sms, voice, st := d.chats, d.sms, d.voice, d.st
	d.mu.RUnlock()
	switch m.Channel {
	case SMS:
		if sms == nil {
			return false, ErrNoProvider
		}
		return d.attempt(ctx, providerName(sms), sms, m)
	case Voice:
		if voice == nil {
			return false, ErrNoProvider
		}
		return d.attempt(ctx, providerName(voice), voice, m)
	}
	switch {
	case len(chats) == 0:
		return false, ErrNoProvider
	case len(chats) == 1:
		return d.attempt(ctx, chats[0].name, chats[0].n, m)
	case st == nil || m.ID == "":
		return d.anyChat(ctx, m, chats)
	}
	return d.eachChat(ctx, st, m, chats)
}

// markTimeout bounds recording that a surface took a message. The record
// is made even when the send used up the caller's deadline: without it a
// retry would post the message on that surface again.
const markTimeout = 2 * time.Second

// eachChat delivers m once on each chat surface, remembering in st which
// surfaces took it.
func (d *Dispatcher) eachChat(ctx context.Context, st Surfaces, m Message, chats []surface) (bool, error) {
	taken, err := st.SurfacesTaken(ctx, m.ID)
	if err != nil {
		// Which surfaces have it is unknown: ask again later.
		return true, err
	}
	var (
		errs  []error
		retry bool
		stale bool
		took  = len(taken) > 0
	)
	for _, c := range chats {
		if taken[c.name] {
			continue
		}
		r, err := d.attempt(ctx, c.name, c.n, m)
		if errors.Is(err, ErrStale) {
			stale = true // nothing to post there, now or later
			continue
		}
		if err != nil {
			errs = append(errs, err)
			retry = retry || r
			continue
		}
		took = true
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
		err = st.MarkSurface(mctx, m.ID, c.name)
		cancel()
		if err != nil {
			d.log.Warn("chat surface took a message but it was not recorded; a retry would post it there again",
				zap.String("surface", c.name), zap.String("ref", m.Ref), zap.String("key", m.Key), zap.Error(err))
		}
	}
	if len(errs) == 0 {
		if stale && !took {
			return false, ErrStale
		}
		return false, nil
	}
	err = errors.Join(errs...)
	if retry || !took {
		return retry, err
	}
	d.log.Warn("chat surface failed for good; others took the message", zap.String("ref", m.Ref), zap.String("key", m.Key), zap.Error(err))
	return false, nil
}

// anyChat delivers m on every chat surface; it counts as delivered when
// one of them took it.
func (d *Dispatcher) anyChat(ctx context.Context, m Message, chats []surface) (bool, error) {
	var (
		errs  []error
		retry bool
		ok    bool
		stale bool
	)
	for _, c := range chats {
		r, err := d.attempt(ctx, c.name, c.n, m)
		if errors.Is(err, ErrStale) {
			stale = true
			continue
		}
		if err != nil {
			errs = append(errs, err)
			retry = retry || r
			continue
		}
		ok = true
	}
	if ok {
		if len(errs) > 0 {
			d.log.Warn("chat surface failed", zap.String("ref", m.Ref), zap.Error(errors.Join(errs...)))
		}
		return false, nil
	}
	if stale && len(errs) == 0 {
		return false, ErrStale
	}
	return retry, errors.Join(errs...)
}

var _ Notifier = (*Dispatcher)(nil)
