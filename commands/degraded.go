package commands

// Degraded mode: a live /plan trigger while Redis is unreachable.
//
// An emergency does not wait for the records. When the store answers
// ErrUnavailable, planTrigger hands over to degradedTrigger, which
//
//  1. assigns each task from the config alone (the roster rotation;
//     covers live in Redis and are not known),
//  2. appends one line to the local journal and fsyncs it, before
//     anything goes out, so what is sent is on disk first,
//  3. sends the plan's broadcast to the site's chat channel and an SMS to
//     each assignee straight through the notifiers (the Dispatcher), not
//     the Redis outbox, retrying what may succeed on a second try,
//  4. answers within the command's budget with "Records are unavailable"
//     and what it sent (waiting at most degradedWait for the sends).
//
// When Redis returns, the journal's Run replays the line into the records
// and the audit log exactly once (store.ReplayDegraded); the tasks then
// escalate as usual. Drills never run degraded: they just answer that
// records are unavailable.
//
// A TriggerPlan that failed after Overrides succeeded may have been
// written all the same (a reply lost to a timeout); degraded mode still
// sends then, preferring a duplicate call-out to a missing one.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"go.uber.org/zap"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
	"github.com/muster-ops/muster/store/journal"
)

// degradedMode is what a Service needs to trigger plans without Redis.
type degradedMode struct {
	// out delivers directly (the notify.Dispatcher).
	out     notify.Notifier
	journal *journal.Journal
	// sends counts direct sends in flight (tests wait on it).
	sends sync.WaitGroup
}

// degradedWait bounds how long a degraded trigger waits for its sends
// before it answers; sends still running go on after the answer.
const degradedWait = 1500 * time.Millisecond

// degradedSendTimeout bounds all attempts of one direct send.
const degradedSendTimeout = time.Minute

// degradedAttemptTimeout bounds one attempt: the provider's own request
// timeout, plus what the notifier does after sending (the Twilio client
// notes the message's SID in the store, which is down).
const degradedAttemptTimeout = 20 * time.Second

// degradedAttempts is how often a direct send is tried when its notifier
// says another try may succeed.
const degradedAttempts = 4

// degradedOn reports whether err sends a live trigger to degraded mode:
// only when Redis is unreachable (store.Health confirms it), never because
// it was slow to answer, since degraded mode sends outside the records.
func (s *Service) degradedOn(ctx context.Context, err error, drill bool) bool {
	return s.dg != nil && !drill && errors.Is(err, store.ErrUnavailable) && s.st.Health().Confirm(ctx, err)
}

// sendResult is how one direct send ended.
type sendResult struct {
	i   int
	err error
}

// degradedTrigger triggers plan p at site with Redis unreachable (cause).
func (s *Service) degradedTrigger(ctx context.Context, c *call, p *configs.Plan, site *configs.Site, incident int64, note string, cause error) Reply {
	now := s.now()
	e := store.DegradedActivation{ID: s.dg.journal.NewID(), At: now, Plan: p.ID, PlanName: p.Name, PlanVersion: p.Version,
		Site: site.ID, By: c.who.ID, Note: note, Incident: incident, Target: p.Target.D()}
	broadcast := fmt.Sprintf("%s at %s: %s", strings.ToUpper(p.Name), site.Name, p.Broadcast)
	if note != "" {
		broadcast += " Note: " + note
	}
	broadcast += " (muster is in degraded mode: records are unavailable, tasks go out by SMS; confirm by phone.)"
	msgs := []notify.Message{{Key: e.ID + ":broadcast", Channel: notify.Chat, Site: site.ID, Kind: "broadcast", Text: broadcast}}
	e.Sent = []store.DegradedSend{{Channel: notify.Chat, Site: site.ID, Kind: "broadcast", Task: -1}}
	for i, t := range p.Tasks {
		a := s.assign(t.Role, site.ID, now, nil)
		e.Tasks = append(e.Tasks, store.DegradedTask{Title: t.Title, Role: t.Role, Policy: t.Policy, Assignee: a.person,
			Note: a.note + " (from the config roster: covers unknown while records were unavailable)", LiveOnly: t.LiveOnly})
		if a.person == "" {
			continue
		}
		msgs = append(msgs, notify.Message{Key: e.ID + ":" + strconv.Itoa(i) + ":sms", Channel: notify.SMS, To: a.person,
			Site: site.ID, Kind: "task", Text: degradedSMS(p.Name, site.Name, t.Title)})
		e.Sent = append(e.Sent, store.DegradedSend{Channel: notify.SMS, To: a.person, Kind: "task", Task: i})
	}
	// The journal first: if this process dies while sending, the
	// activation is still on disk.
	e, jerr := s.dg.journal.Append(e)
	if jerr != nil {
		s.log.Error("degraded activation not journaled; sending anyway", zap.String("id", e.ID), zap.Error(jerr))
	}
	s.log.Warn("plan triggered in degraded mode: records unavailable, sending directly",
		zap.String("id", e.ID), zap.String("plan", p.ID), zap.String("site", site.ID), zap.String("by", c.who.ID),
		zap.Int("messages", len(msgs)), zap.NamedError("cause", cause))

	status := s.sendAllDirect(ctx, e.ID, msgs)
	return Reply{Text: s.degradedText(p, site, e, msgs, status, jerr), Public: true}
}

// sendAllDirect sends msgs straight through the notifiers, each on its
// own, and waits for them within the command's budget: at most
// degradedWait, and not much past the command's deadline (the store may
// have used it up finding Redis gone). It returns each message's status:
// "sent", "FAILED (...)", or "" while still sending (sends go on after
// the answer, each bounded by degradedSendTimeout).
func (s *Service) sendAllDirect(ctx context.Context, id string, msgs []notify.Message) []string {
	results := make(chan sendResult, len(msgs))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), degradedSendTimeout)
	var all sync.WaitGroup
	for i, m := range msgs {
		all.Add(1)
		s.dg.sends.Add(1)
		go func() {
			defer s.dg.sends.Done()
			defer all.Done()
			err := s.sendDirect(sctx, m)
			if err != nil {
				s.log.Error("degraded send failed", zap.String("id", id), zap.String("key", m.Key), zap.String("channel", m.Channel),
					zap.String("to", m.To), zap.String("site", m.Site), zap.Error(err))
			}
			results <- sendResult{i, err}
		}()
	}
	go func() { all.Wait(); cancel() }()
	wait := degradedWait
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl)+250*time.Millisecond)
	}
	status := make([]string, len(msgs))
	timer := time.NewTimer(max(wait, 0))
	defer timer.Stop()
collect:
	for range msgs {
		select {
		case r := <-results:
			status[r.i] = "sent"
			if r.err != nil {
				status[r.i] = "FAILED (" + r.err.Error() + ")"
			}
		case <-timer.C:
			break collect
		}
	}
	return status
}

// sendDirect delivers m through the direct notifier, trying again (with a
// growing pause) while it says another try may succeed.
func (s *Service) sendDirect(ctx context.Context, m notify.Message) error {
	pause := 500 * time.Millisecond
	var err error
	for attempt := 1; attempt <= degradedAttempts; attempt++ {
		if ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
		actx, cancel := context.WithTimeout(ctx, degradedAttemptTimeout)
		retry, aerr := s.dg.out.Notify(actx, m)
		cancel()
		if err = aerr; err == nil || !retry {
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		pause *= 2
	}
	return err
}

// degradedText is the answer to a degraded trigger.
func (s *Service) degradedText(p *configs.Plan, site *configs.Site, e store.DegradedActivation, msgs []notify.Message, status []string, jerr error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Records are unavailable, so %s at %s was triggered in DEGRADED MODE by %s: no A-n yet; journal %s records it until records return.",
		p.Name, site.Name, s.personName(e.By), e.ID)
	if jerr != nil {
		b.WriteString(" The journal could not be written either: note this trigger by hand.")
	}
	st := func(i int) string {
		if status[i] == "" {
			return "sending"
		}
		return status[i]
	}
	fmt.Fprintf(&b, "\nBroadcast to %s: %s.", site.Name, st(0))
	b.WriteString("\nSMS call-out from the config roster (covers unknown):")
	n := 0
	for i := 1; i < len(msgs); i++ {
		n++
		fmt.Fprintf(&b, "\n  %s: %s", s.personName(msgs[i].To), st(i))
	}
	for i, t := range e.Tasks {
		if t.Assignee == "" {
			fmt.Fprintf(&b, "\n  nobody for task %d (%s): %s", i+1, t.Role, t.Note)
		}
	}
	if n == 0 {
		b.WriteString(" nobody could be called.")
	}
	b.WriteString("\nNobody can acknowledge in muster until records return: confirm by phone with the control room.")
	return b.String()
}

// degradedSMS is a task's SMS in degraded mode: GSM-7, one segment (the
// title is shortened, never the instruction), no task number to reply
// with, since nobody can acknowledge until records return.
func degradedSMS(plan, site, title string) string {
	head := notify.SMSText(strings.ToUpper(plan) + " at " + site + ": ")
	tail := notify.SMSText(". muster records are down: confirm by phone.")
	title = notify.SMSText(title)
	limit := notify.SMSLimit
	if _, ok := notify.GSM7Len(head + title + tail); !ok {
		limit = notify.SMSLimitUCS2
	}
	room := limit - smsLen(head) - smsLen(tail)
	r := []rune(title)
	if smsLen(title) > room {
		for len(r) > 0 && smsLen(string(r))+3 > room {
			r = r[:len(r)-1]
		}
		title = strings.TrimSpace(string(r)) + "..."
	}
	return head + title + tail
}

// smsLen is a text's length in its encoding's units (septets or UTF-16).
func smsLen(s string) int {
	if n, ok := notify.GSM7Len(s); ok {
		return n
	}
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// WaitDegraded blocks until the direct sends of degraded triggers have
// finished (each is bounded by a minute). Shutdown and tests call it.
func (s *Service) WaitDegraded() {
	if s.dg != nil {
		s.dg.sends.Wait()
	}
}
