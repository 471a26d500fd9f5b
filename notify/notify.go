// Package notify is everything that goes out of muster: chat posts, SMS
// and voice calls, and the escalation engine that decides when.
package notify

import (
	"context"
	"errors"
	"sync"

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

// Dispatcher routes each message to the notifiers of its channel: every
// connected chat platform gets chat messages; SMS and voice have one
// provider each.
type Dispatcher struct {
	log *zap.Logger
	// mu guards the fields that follow.
	mu    sync.RWMutex
	chats []Notifier
	sms   Notifier
	voice Notifier
}

// NewDispatcher returns a dispatcher with no notifiers.
func NewDispatcher(log *zap.Logger) *Dispatcher {
	if log == nil {
		log = zap.NewNop()
	}
	return &Dispatcher{log: log}
}

// AddChat adds a chat surface (Slack, Discord, the console).
func (d *Dispatcher) AddChat(n Notifier) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.chats = append(d.chats, n)
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

// ErrNoProvider: nothing is configured to deliver that channel.
var ErrNoProvider = errors.New("no provider for this channel")

// Notify delivers m on its channel. A chat message goes to every chat
// surface; it counts as delivered when one of them took it.
func (d *Dispatcher) Notify(ctx context.Context, m Message) (bool, error) {
	d.mu.RLock()
	chats, sms, voice := d.chats, d.sms, d.voice
	d.mu.RUnlock()
	switch m.Channel {
	case SMS:
		if sms == nil {
			return false, ErrNoProvider
		}
		return sms.Notify(ctx, m)
	case Voice:
		if voice == nil {
			return false, ErrNoProvider
		}
		return voice.Notify(ctx, m)
	default:
		if len(chats) == 0 {
			return false, ErrNoProvider
		}
		var (
			errs  []error
			retry bool
			ok    bool
		)
		for _, n := range chats {
			r, err := n.Notify(ctx, m)
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
		return retry, errors.Join(errs...)
	}
}

var _ Notifier = (*Dispatcher)(nil)
