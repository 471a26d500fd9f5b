package notify

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/clock"
	"github.com/muster-ops/muster/store"
)

// When corrective action reminders go out, in the organization's zone: the
// owner is told by chat at DueChatHour on the day an action is due, and by
// SMS at DueSMSHour if it is still open; every coordinator is told by chat
// at DueChatHour the day after, when it is overdue.
const (
	DueChatHour = 9
	DueSMSHour  = 13
)

// Reminder names, as the store remembers them (once each per action).
const (
	ReminderDueChat = "due-chat"
	ReminderDueSMS  = "due-sms"
	ReminderOverdue = "overdue"
)

// maxReminderSleep bounds how long the reminder loop sleeps, so actions
// recorded meanwhile are picked up.
const maxReminderSleep = 15 * time.Minute

// ActionReminders reminds owners of corrective actions that fall due, and
// coordinators of those overdue. Every process runs one; each reminder
// goes out once, because the script that queues it remembers it on the
// action in the same step.
type ActionReminders struct {
	conf  configs.Current
	st    ActionRecords
	clock clock.Clock
	log   *zap.Logger
}

// NewActionReminders builds the reminder loop.
func NewActionReminders(cfg configs.Current, st ActionRecords, clk clock.Clock, log *zap.Logger) *ActionReminders {
	if log == nil {
		log = zap.NewNop()
	}
	return &ActionReminders{conf: cfg, st: st, clock: clk, log: log}
}

// cfg is the configuration in force now.
func (r *ActionReminders) cfg() *configs.Config { return r.conf.Current() }

// Run sends reminders until ctx ends.
func (r *ActionReminders) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		next, err := r.Remind(ctx)
		if err != nil && ctx.Err() == nil {
			r.log.Warn("corrective action reminders", zap.Error(err))
		}
		now := r.clock.Now()
		wait := maxReminderSleep
		if !next.IsZero() && next.Sub(now) < wait {
			wait = max(next.Sub(now), time.Second)
		}
		c, stop := r.clock.After(wait)
		select {
		case <-ctx.Done():
			stop()
			return nil
		case <-c:
		}
		stop()
	}
	return nil
}

// reminder is one reminder of an action: when, to whom, on which channel.
type reminder struct {
	which   string
	at      time.Time
	to      []string
	channel string
}

// reminders are an action's three reminders, from its due day; none when
// it has no due day.
func (r *ActionReminders) reminders(a *store.CorrectiveAction) []reminder {
	t, err := time.ParseInLocation("2006-01-02", a.Due, r.cfg().Location())
	if err != nil {
		return nil
	}
	at := func(days, hour int) time.Time {
		return time.Date(t.Year(), t.Month(), t.Day()+days, hour, 0, 0, 0, r.cfg().Location())
	}
	var coords []string
	for _, p := range r.cfg().Coordinators() {
		coords = append(coords, p.ID)
	}
	return []reminder{
		{ReminderDueChat, at(0, DueChatHour), []string{a.Owner}, Chat},
		{ReminderDueSMS, at(0, DueSMSHour), []string{a.Owner}, SMS},
		{ReminderOverdue, at(1, DueChatHour), coords, Chat},
	}
}

// Remind queues every reminder due by now that has not gone out, and
// says when the next one falls due (zero: none pending).
func (r *ActionReminders) Remind(ctx context.Context) (next time.Time, err error) {
	open, err := r.st.Actions(ctx, store.ActionFilter{OpenOnly: true})
	if err != nil {
		return time.Time{}, err
	}
	now := r.clock.Now()
	for _, a := range open {
		for _, rm := range r.reminders(a) {
			if _, sent := a.Reminded[rm.which]; sent {
				continue
			}
			if rm.at.After(now) {
				if next.IsZero() || rm.at.Before(next) {
					next = rm.at
				}
				continue
			}
			msgs := make([]store.OutMessage, 0, len(rm.to))
			for _, to := range rm.to {
				msgs = append(msgs, store.OutMessage{Key: fmt.Sprintf("%s:%s:%s", a.ID(), rm.which, to), Channel: rm.channel, To: to,
					Kind: "action", Ref: a.ID(), Text: r.text(a, rm)})
			}
			if _, err := r.st.RemindAction(ctx, a.Num, rm.which, msgs...); err != nil {
				return next, err
			}
		}
	}
	return next, nil
}

// text is a reminder's message. An SMS keeps to one segment where it can.
func (r *ActionReminders) text(a *store.CorrectiveAction, rm reminder) string {
	switch rm.which {
	case ReminderOverdue:
		owner := a.Owner
		if p, ok := r.cfg().Person(a.Owner); ok {
			owner = p.Name
		}
		return fmt.Sprintf("%s (%s) is overdue: it was due %s and %s has not marked it done: %s", a.ID(), a.Subject, a.Due, owner, a.Text)
	case ReminderDueSMS:
		return clip(fmt.Sprintf("muster: %s due today: %s Reply ACTION DONE %s when done", a.ID(), a.Text, a.ID()), 160, a.ID())
	}
	return fmt.Sprintf("%s (%s) is due today: %s. When it is done: /action done %s [note]", a.ID(), a.Subject, a.Text, a.ID())
}

// clip shortens text to n characters, keeping its end (the reply
// instruction) whole: the middle is cut.
func clip(text string, n int, id string) string {
	r := []rune(text)
	if len(r) <= n {
		return text
	}
	tail := []rune(" Reply ACTION DONE " + id + " when done")
	head := r[:max(n-len(tail)-1, 0)]
	return string(head) + "…" + string(tail)
}
