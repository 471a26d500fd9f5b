// Package sms is muster's Twilio front door: inbound SMS (ACK, DONE,
// STATUS, HELP), delivery status callbacks, and the TwiML of escalation
// calls with their "press 1" answer. Every request is verified against
// X-Twilio-Signature before anything in it is read, and commands run
// through the same commands package as chat.
package sms

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/twilio/twilio-go/twiml"
	"go.uber.org/zap"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/logging"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/notify/twilio"
	"github.com/muster-ops/muster/store"
)

// Commander runs a command (*commands.Service).
type Commander interface {
	Handle(ctx context.Context, req commands.Request) commands.Reply
}

// Store is what the handlers read and record (*store.Store).
type Store interface {
	Task(ctx context.Context, num int64) (*store.Task, error)
	RecordDelivery(ctx context.Context, providerID, status, errorCode string, failed bool) (store.Delivery, string, error)
	AdvanceAfter(ctx context.Context, key, reason string) (string, error)
	RecordSMSOptIn(ctx context.Context, person, maskedPhone, keyword string, out bool) error
	CheckReplay(ctx context.Context, g *store.ReplayGuard) (bool, error)
	// Guarded is the store for one inbound message, bound to its replay
	// guard.
	Guarded(g *store.ReplayGuard) *store.Store
}

var _ Store = (*store.Store)(nil)

// Options configure Handlers.
type Options struct {
	Config   configs.Current
	Commands Commander
	Store    Store
	// AuthToken verifies X-Twilio-Signature.
	AuthToken string
	// PublicURL is server.public_url, the base of the URLs Twilio signs.
	PublicURL string
	Logger    *zap.Logger
}

// Handlers serve Twilio's webhooks.
type Handlers struct {
	conf      configs.Current
	cmds      Commander
	st        Store
	token     string
	publicURL string
	log       *zap.Logger
}

// New builds the handlers.
func New(o Options) (*Handlers, error) {
	var errs []error
	if o.Config == nil || o.Commands == nil || o.Store == nil {
		errs = append(errs, errors.New("sms: config, commands and store are required"))
	}
	if o.AuthToken == "" {
		errs = append(errs, ErrNoAuthToken)
	}
	if o.PublicURL == "" {
		errs = append(errs, errors.New("sms: server.public_url is required: Twilio signs it"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	return &Handlers{conf: o.Config, cmds: o.Commands, st: o.Store, token: o.AuthToken,
		publicURL: strings.TrimSuffix(o.PublicURL, "/"), log: log}, nil
}

// Router mounts routes (*bot.Server, *http.ServeMux).
type Router interface {
	Handle(pattern string, h http.Handler)
}

// Mount adds the four Twilio routes.
func (h *Handlers) Mount(r Router) {
	r.Handle("POST /twilio/sms", h.SMS())
	r.Handle("POST "+twilio.StatusPath, h.Status())
	r.Handle("POST "+twilio.VoicePath, h.Voice())
	r.Handle("POST "+twilio.GatherPath, h.Gather())
}

// verified wraps a handler with the signature check: 403 and nothing
// processed when it fails.
func (h *Handlers) verified(route string, next func(w http.ResponseWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := VerifyTwilioRequest(r, h.token, h.publicURL); err != nil {
			h.log.Warn("twilio webhook refused", zap.String("route", route), zap.String("remote", r.RemoteAddr), zap.Error(err))
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		next(w, r)
	})
}

// Keywords Twilio handles itself for every messaging number (Advanced
// Opt-Out): it confirms them and stops or resumes delivery. muster only
// records them.
var (
	optOut = map[string]bool{"STOP": true, "STOPALL": true, "UNSUBSCRIBE": true, "CANCEL": true, "END": true, "QUIT": true, "OPTOUT": true, "REVOKE": true}
	optIn  = map[string]bool{"START": true, "YES": true, "UNSTOP": true}
)

// smsCommands are the commands SMS accepts; everything else is chat only.
var smsCommands = map[string]bool{"ack": true, "done": true, "status": true, "help": true, "action": true, "safe": true, "ok": true}

// inboundTTL is how long an inbound message's MessageSid is remembered:
// Twilio retries a webhook that got no 2xx within minutes, never days.
const inboundTTL = 24 * time.Hour

// replayCheckTimeout bounds the separate replay check of a command that
// touched no records.
const replayCheckTimeout = time.Second

// SMS serves POST /twilio/sms: an inbound text.
//
// Twilio retries a webhook it got no 2xx for, with the same MessageSid,
// so the same ACK can arrive twice, at two replicas. The MessageSid is
// remembered in Redis (SET NX, muster:{ns}:twilio:sms:<sid>) in the
// command's first round trip, before anything changes (a
// store.ReplayGuard, see store/guard.go), so exactly one copy acts; a
// second copy changes nothing and is answered 200 with an empty TwiML
// (no second reply text).
func (h *Handlers) SMS() http.Handler {
	return h.verified("sms", func(w http.ResponseWriter, r *http.Request) {
		from, body := r.PostFormValue("From"), strings.TrimSpace(r.PostFormValue("Body"))
		ctx := r.Context()
		var g *store.ReplayGuard
		if sid := r.PostFormValue("MessageSid"); sid != "" {
			g = store.NewReplayGuard("twilio:sms:"+sid, inboundTTL)
		}
		p, known := h.cfg().PersonByPhone(from)
		word := strings.ToUpper(strings.Trim(firstWord(body), ".!"))
		who := ""
		if known {
			who = p.ID
		}
		switch {
		case optOut[word] || optIn[word]:
			out := optOut[word]
			switch err := h.st.Guarded(g).RecordSMSOptIn(ctx, who, logging.MaskPhone(from), word, out); {
			case errors.Is(err, store.ErrReplayed):
				h.log.Info("sms already handled (Twilio retry); ignored", zap.String("phone", logging.MaskPhone(from)))
				writeTwiML(w)
				return
			case err != nil:
				h.log.Warn("sms opt-out not recorded", zap.String("phone", logging.MaskPhone(from)), zap.Error(err))
			}
			h.log.Info("sms opt keyword", zap.String("keyword", word), zap.String("person", who), zap.String("phone", logging.MaskPhone(from)))
			writeTwiML(w) // Twilio answers these itself
			return
		case !known:
			h.log.Warn("sms from an unknown number", zap.String("phone", logging.MaskPhone(from)))
			writeTwiML(w, message("Sorry, this number is not on the muster roster, so muster cannot act on your message. Please contact your control room."))
			return
		}
		reply := h.run(ctx, p, from, body, g)
		if reply.Busy && (g == nil || !g.Settled()) {
			// Shed before it ran: Twilio may send it again.
			busy(w)
			return
		}
		dup, shed := h.replayed(r.Context(), g)
		if shed || reply.Busy && !dup {
			busy(w)
			return
		}
		if dup {
			h.log.Info("sms already handled (Twilio retry); ignored", zap.String("person", p.ID),
				zap.String("phone", logging.MaskPhone(from)))
			writeTwiML(w)
			return
		}
		h.log.Info("sms command", zap.String("person", p.ID), zap.String("command", strings.ToLower(word)), zap.Bool("refused", reply.Error))
		writeTwiML(w, message(reply.Text))
	})
}

// replayed reports whether the message whose guard is g was handled
// before. A command that made no round trip (HELP) has the guard settled
// here with one SET NX (this process's memory while Redis is
// unreachable). busy is true when that could not be checked in time
// (Redis up, overloaded): the message is answered 503, not run.
func (h *Handlers) replayed(ctx context.Context, g *store.ReplayGuard) (dup, busy bool) {
	if g == nil {
		return false, false
	}
	if g.Settled() {
		if err := g.Err(); err != nil {
			h.log.Warn("sms replay check not answered in time; answered busy", zap.Error(err))
			return false, true
		}
		return g.Replayed(), false
	}
	ctx, cancel := context.WithTimeout(ctx, replayCheckTimeout)
	defer cancel()
	dup, err := h.st.CheckReplay(ctx, g)
	if err != nil {
		h.log.Warn("sms replay check not answered in time; answered busy", zap.Error(err))
		return false, true
	}
	return dup, false
}

// busy answers a message muster shed: 503 with Retry-After and no reply
// text (a TwiML reply would be an SMS sent outside the paced outbox).
func busy(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "2")
	http.Error(w, "muster is overloaded: nothing was recorded", http.StatusServiceUnavailable)
}

// run handles one SMS command from a known person. By SMS a person may
// acknowledge or finish only their own tasks, supervisors included; the
// commands package checks that in the ack's own script, so an ACK is one
// round trip and its MessageSid (the replay guard g, nil when the
// message has none) is remembered in the same step as the ack.
func (h *Handlers) run(ctx context.Context, p *configs.Person, phone, body string, g *store.ReplayGuard) commands.Reply {
	cmd := commands.Parse(body)
	if !smsCommands[cmd.Name] {
		return commands.Reply{Text: "muster understands: " + commands.SMSHelpText, Error: true}
	}
	return h.cmds.Handle(ctx, commands.Request{Platform: commands.PlatformSMS, UserID: phone, Text: body, Replay: g})
}

// runVia runs a line muster made from a key pressed on a call (its SMS
// words), as the person called; via names the call in the records.
func (h *Handlers) runVia(ctx context.Context, phone, line, via string) commands.Reply {
	return h.cmds.Handle(ctx, commands.Request{Platform: commands.PlatformSMS, UserID: phone, Text: line, Via: via})
}

// Status serves POST /twilio/status: Twilio's report on a message or call
// muster sent. The status lands in the task's timeline; a message that
// was not delivered, or a call nobody answered, moves the task's
// escalation to its next step at once.
func (h *Handlers) Status() http.Handler {
	return h.verified("status", func(w http.ResponseWriter, r *http.Request) {
		sid, status := r.PostFormValue("MessageSid"), r.PostFormValue("MessageStatus")
		failed := status == "undelivered" || status == "failed"
		if sid == "" || status == "" {
			sid, status = r.PostFormValue("CallSid"), r.PostFormValue("CallStatus")
			switch status {
			case "busy", "no-answer", "failed", "canceled":
				failed = true
			}
		}
		if sid == "" || status == "" {
			http.Error(w, "no MessageSid/MessageStatus or CallSid/CallStatus", http.StatusBadRequest)
			return
		}
		code := r.PostFormValue("ErrorCode")
		d, res, err := h.st.RecordDelivery(r.Context(), sid, status, code, failed)
		if err != nil {
			// Twilio retries a callback that failed with a 5xx only when
			// asked to; answering 503 at least shows in its debugger.
			h.log.Warn("delivery status not recorded", zap.String("sid", sid), zap.String("status", status), zap.Error(err))
			http.Error(w, "records unavailable", http.StatusServiceUnavailable)
			return
		}
		if res == store.DeliveryRecorded {
			h.log.Info("delivery status", zap.String("sid", sid), zap.String("status", status), zap.String("error_code", code),
				zap.String("key", d.Key))
		}
		if failed && res == store.DeliveryRecorded && d.Channel != "" {
			reason := fmt.Sprintf("%s to %s %s", d.Channel, d.To, status)
			if code != "" {
				reason += " (error " + code + ")"
			}
			adv, err := h.st.AdvanceAfter(r.Context(), d.Key, reason+"; next step now")
			if err != nil {
				h.log.Warn("escalation not advanced", zap.String("key", d.Key), zap.Error(err))
			} else {
				h.log.Info("escalation advanced after a failed delivery", zap.String("key", d.Key), zap.String("result", adv))
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// Voice serves POST /twilio/voice?task=T-n: the TwiML of an escalation
// call, which reads the task and asks for 1 to acknowledge.
func (h *Handlers) Voice() http.Handler {
	return h.verified("voice", func(w http.ResponseWriter, r *http.Request) {
		t, ok := h.task(r)
		if !ok {
			writeTwiML(w, say("This is muster. This call is about a task that no longer exists. Goodbye."))
			return
		}
		if t.Status != store.TaskOpen && t.Status != store.TaskUnanswered {
			writeTwiML(w, say(fmt.Sprintf("This is muster. Task %d is already %s. Thank you. Goodbye.", t.Num, t.Status)))
			return
		}
		site := t.Site
		if s, ok := h.cfg().Site(t.Site); ok {
			site = s.Name
		}
		text := notify.TaskText(notify.Voice, t, site, t.Drill > 0) + " Press 1 to acknowledge."
		none := "No key was pressed, so the task is not acknowledged. Goodbye."
		if t.Kind == store.KindRollCall {
			text = notify.RollCallText(notify.Voice, t.Ref, site, false, t.Drill > 0)
			none = "No key was pressed, so you are not yet accounted for. Reply SAFE or HELP by text. Goodbye."
		}
		if t.Kind == store.KindCheckin {
			text = notify.CheckinReminderText(notify.Voice, t.Ref, site, t.Drill > 0)
			none = "No key was pressed, so you have not checked in. Reply OK or HELP by text. Goodbye."
		}
		action := h.publicURL + twilio.GatherPath + "?task=" + t.ID()
		writeTwiML(w, twilio.Gather(action, 10, say(text), say(text)), say(none))
	})
}

// Gather serves POST /twilio/voice/gather?task=T-n: the key the called
// person pressed. 1 acknowledges the task as that person (identified by
// the number called), through the commands package, own tasks only.
func (h *Handlers) Gather() http.Handler {
	return h.verified("gather", func(w http.ResponseWriter, r *http.Request) {
		t, ok := h.task(r)
		if !ok {
			writeTwiML(w, say("This task no longer exists. Goodbye."))
			return
		}
		digits := r.PostFormValue("Digits")
		line := "ACK " + t.ID()
		switch {
		case t.Kind == store.KindRollCall && digits == "1":
			line = "SAFE " + t.Ref
		case t.Kind == store.KindRollCall && digits == "2":
			line = "HELP " + t.Ref
		case t.Kind == store.KindRollCall:
			writeTwiML(w, say("Press 1 if safe, 2 if you need help; nothing was recorded. Goodbye."))
			return
		case t.Kind == store.KindCheckin && digits == "1":
			line = "OK"
		case t.Kind == store.KindCheckin:
			writeTwiML(w, say("You have not checked in. Reply OK or HELP by text. Goodbye."))
			return
		case digits != "1":
			writeTwiML(w, say("Task "+fmt.Sprint(t.Num)+" is not acknowledged. Goodbye."))
			return
		}
		phone := r.PostFormValue("To")
		p, known := h.cfg().PersonByPhone(phone)
		if !known {
			h.log.Warn("voice acknowledgement from an unknown number", zap.String("phone", logging.MaskPhone(phone)))
			writeTwiML(w, say("This number is not on the muster roster, so the task is not acknowledged. Goodbye."))
			return
		}
		reply := h.runVia(r.Context(), phone, line, commands.ViaVoice)
		h.log.Info("voice acknowledgement", zap.String("person", p.ID), zap.String("task", t.ID()), zap.Bool("refused", reply.Error))
		writeTwiML(w, say(reply.Text+" Goodbye."))
	})
}

// task reads the task named by the ?task= query of a voice webhook.
func (h *Handlers) task(r *http.Request) (*store.Task, bool) {
	num, err := store.ParseID("T", r.URL.Query().Get("task"))
	if err != nil {
		return nil, false
	}
	t, err := h.st.Task(r.Context(), num)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			h.log.Warn("voice: task unavailable", zap.Int64("task", num), zap.Error(err))
		}
		return nil, false
	}
	return t, true
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

func message(text string) twiml.Element { return twilio.Message(text) }

func say(text string) twiml.Element { return twilio.Say(text) }

// writeTwiML answers with a TwiML document of verbs (none: nothing to do).
func writeTwiML(w http.ResponseWriter, verbs ...twiml.Element) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	_, _ = w.Write([]byte(twilio.TwiML(verbs...)))
}

// cfg is the configuration in force now.
func (h *Handlers) cfg() *configs.Config { return h.conf.Current() }
