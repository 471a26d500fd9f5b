// Package commands is muster's one command language, for every chat
// platform and SMS: a Request comes in, a Reply goes out. It resolves the
// sender to a person of the config, checks permissions and runs the
// handler. Adapters (bot/slack, bot/discord, bot/console, bot/sms) only
// translate to and from these types.
package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
	"github.com/muster-ops/muster/store/journal"
)

// Platforms a request can come from.
const (
	PlatformConsole = "console"
	PlatformSlack   = "slack"
	PlatformDiscord = "discord"
	PlatformSMS     = "sms"
)

// Request is one command from one person.
type Request struct {
	Platform string
	// UserID is the platform's id for the sender: a Slack or Discord user
	// id, a phone number for SMS, a person id in the console.
	UserID string
	// Text is the command line, "/incident raise ...".
	Text string
	// Channel is the platform channel it was typed in, if any; a site's
	// channel makes that site the default.
	Channel string
	// Via says how the command came when it was not typed: ViaButton (a
	// chat card's button) or ViaVoice (a key pressed on a call). Records
	// name it (how a person answered a roll call or checked in); it
	// changes nothing else.
	Via string
	// Replay is the adapter's replay check of the request (a signed
	// webhook that may arrive twice), nil when it has none: the command's
	// first store round trip settles it, and a request already handled
	// changes nothing (store/guard.go).
	Replay *store.ReplayGuard
}

// How a command came when it was not typed (Request.Via).
const (
	ViaButton = "button"
	ViaVoice  = "voice"
)

// Surface is how the request came as records name it: the platform
// (slack, discord, console, sms), "voice" for a key pressed on a call,
// "slack button" for a card's button.
func (r Request) Surface() string {
	switch r.Via {
	case "":
		return r.Platform
	case ViaVoice:
		return ViaVoice
	}
	return r.Platform + " " + r.Via
}

// Reply is muster's answer to a Request.
type Reply struct {
	// Text is the answer as plain text; every surface can show it.
	Text string
	// Public replies are announcements the whole channel sees; the rest
	// are shown only to the sender (ephemeral).
	Public bool
	// Error marks a refusal or a usage message.
	Error bool
	// Ref names the record the reply is about (INC-4, T-17, A-3) so a
	// chat surface can render its card with buttons.
	Ref string
	// Busy marks muster shedding load: the command was not run, or its
	// records did not answer in time while Redis was up. A webhook that
	// can be sent again (Twilio) answers 503 with Retry-After; a chat
	// surface shows the text.
	Busy bool
}

// Service runs commands for one organization.
type Service struct {
	conf configs.Current
	// st is the shared store; a command works on its request's view of
	// it (call.st).
	st  Records
	now func() time.Time
	log *zap.Logger
	// engine, when set, is woken after writes that add deadlines.
	engine Poker
	cmds   map[string]handler
	// dg is degraded mode (commands/degraded.go); nil when off.
	dg *degradedMode
	// slots bounds the commands running at once (admission, Handle).
	slots     chan struct{}
	admitWait time.Duration
	// waiting counts the commands waiting for a slot (admit).
	waiting atomic.Int64
	// boardURL is where board sign-in links point (SetBoardURL).
	boardURL string
	// lone is the lone-worker sessions last seen, for degraded mode.
	lone loneMemory
}

// Poker wakes an escalation engine (notify.Engine).
type Poker interface{ Poke() }

// Options configure a Service.
type Options struct {
	// Config is the configuration in force: a *configs.Live follows
	// reloads.
	Config configs.Current
	Store  *store.Store
	// Now is the clock; the store's when nil.
	Now    func() time.Time
	Logger *zap.Logger
	// Engine is this process's escalation engine, if it runs one.
	Engine Poker
	// Degraded and Journal turn on degraded mode (commands/degraded.go):
	// while Redis is unreachable, /plan trigger sends the broadcast and
	// the SMS call-out through Degraded (the notify.Dispatcher) directly
	// and records them in Journal, which replays them into the records
	// when Redis returns. Both or neither.
	Degraded notify.Notifier
	Journal  *journal.Journal
	// MaxCommands bounds the commands running at once (default
	// DefaultMaxCommands); one that finds no room within AdmitWait
	// (default DefaultAdmitWait) is not run and answered Overloaded.
	MaxCommands int
	AdmitWait   time.Duration
}

// Admission: under a load beyond what muster can record in time, a
// command waits at most DefaultAdmitWait for one of DefaultMaxCommands
// places, then is answered Overloaded without touching anything, instead
// of joining an unbounded queue in which every command runs past its
// deadline. The bound is well under the Redis client's pool, so an
// admitted command gets a connection at once.
const (
	DefaultMaxCommands = 16
	DefaultAdmitWait   = 500 * time.Millisecond
	// queueDepth: at most this many commands per slot wait for one.
	queueDepth = 8
)

// Overloaded is the answer to a command muster shed: it was not run.
const Overloaded = "muster is overloaded: nothing was recorded. Try again in a few seconds; if it is urgent, phone the control room."

// CommandTimeout bounds the store work of one command: Handle gives each
// handler a context with this deadline, so a Redis that does not answer
// costs a command at most this long before it answers "records are
// unavailable", well inside the 3 seconds a chat platform waits.
const CommandTimeout = 2 * time.Second

// handler runs one command for a known person.
type handler func(ctx context.Context, c *call) Reply

// call is one command being handled.
type call struct {
	// st is the store as this command sees it: bound to the request's
	// replay guard (Records.Guarded), so its first round trip checks the
	// request was not handled before.
	st   Records
	req  Request
	who  *configs.Person
	cmd  Command
	args []string
	name string
}

// rest is the free text from args[i] on, as typed, where args is a tail
// of c.args (a handler's view after its subcommand).
func (c *call) rest(args []string, i int) string {
	return c.cmd.Rest(len(c.cmd.Args) - len(args) + i)
}

// cfg is the configuration in force now.
func (s *Service) cfg() *configs.Config { return s.conf.Current() }

// New builds a Service.
func New(o Options) *Service {
	s := &Service{conf: o.Config, st: o.Store, now: o.Now, log: o.Logger, engine: o.Engine}
	if s.now == nil {
		s.now = o.Store.Now
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if o.Degraded != nil && o.Journal != nil {
		s.dg = &degradedMode{out: o.Degraded, journal: o.Journal}
	}
	n, wait := o.MaxCommands, o.AdmitWait
	if n <= 0 {
		n = DefaultMaxCommands
	}
	if wait <= 0 {
		wait = DefaultAdmitWait
	}
	s.slots, s.admitWait = make(chan struct{}, n), wait
	s.cmds = map[string]handler{
		"incident": s.incident,
		"roster":   s.roster,
		"muster":   s.muster,
		"help":     s.help,
		"plan":     s.plan,
		"ack":      s.ack,
		"done":     s.done,
		"drill":    s.drill,
		"action":   s.action,
		"status":   s.status,
		"rollcall": s.rollcall,
		"safe":     s.safe,
		"checkin":  s.checkin,
		"ok":       s.ok,
	}
	return s
}

// Config is the organization's configuration.
func (s *Service) Config() *configs.Config { return s.cfg() }

// ErrUnknownUser: the sender maps to no person of the config.
var ErrUnknownUser = errors.New("not on this organization's roster")

// Identify maps a platform user to a person of the config.
func (s *Service) Identify(platform, userID string) (*configs.Person, error) {
	var (
		p  *configs.Person
		ok bool
	)
	switch platform {
	case PlatformSlack:
		p, ok = s.cfg().PersonBySlack(userID)
	case PlatformDiscord:
		p, ok = s.cfg().PersonByDiscord(userID)
	case PlatformSMS:
		p, ok = s.cfg().PersonByPhone(userID)
	default:
		p, ok = s.cfg().Person(userID)
	}
	if !ok {
		return nil, ErrUnknownUser
	}
	return p, nil
}

// Handle runs one command and returns the answer. It never panics: a
// handler that does is answered with an apology and logged.
func (s *Service) Handle(ctx context.Context, req Request) (reply Reply) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("command panicked", zap.String("platform", req.Platform), zap.Any("panic", r), zap.Stack("stack"))
			reply = fail("Sorry, muster hit an internal error on that command; it has been logged. Try again, or call the control room.")
		}
	}()
	if utf8.RuneCountInString(req.Text) > MaxInput {
		return fail(fmt.Sprintf("That is %d characters; muster takes at most %d. Shorten the text and send it again.", utf8.RuneCountInString(req.Text), MaxInput))
	}
	who, err := s.Identify(req.Platform, req.UserID)
	if err != nil {
		return fail("You are not on this organization's roster, so muster cannot act for you. Ask a coordinator to add your " + platformIDName(req.Platform) + " to the config.")
	}
	cmd := Parse(req.Text)
	if cmd.Name == "" {
		return fail("Type a command, for example /incident raise intrusion @site what you see. /muster help lists them all.")
	}
	h, ok := s.cmds[cmd.Name]
	if !ok {
		return fail(fmt.Sprintf("Unknown command /%s. Try /incident, /plan, /roster, /ack, /done, /drill, /action or /muster help.", cmd.Name))
	}
	if !s.admit(ctx) {
		r := fail(Overloaded)
		r.Busy = true
		return r
	}
	defer func() { <-s.slots }()
	ctx, cancel := context.WithTimeout(ctx, CommandTimeout)
	defer cancel()
	return h(ctx, &call{st: s.st.Guarded(req.Replay), req: req, who: who, cmd: cmd, args: cmd.Args, name: cmd.Name})
}

// admit takes a place for one command, waiting at most s.admitWait.
// A command that finds more than queueDepth times the slots already
// waiting is shed at once: so many could not all be run within the
// wait, and parking them would only lengthen every answer.
func (s *Service) admit(ctx context.Context) bool {
	select {
	case s.slots <- struct{}{}:
		return true
	default:
	}
	if s.waiting.Add(1) > int64(queueDepth*cap(s.slots)) {
		s.waiting.Add(-1)
		return false
	}
	defer s.waiting.Add(-1)
	t := time.NewTimer(s.admitWait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

func platformIDName(p string) string {
	switch p {
	case PlatformSlack:
		return "Slack user id"
	case PlatformDiscord:
		return "Discord user id"
	case PlatformSMS:
		return "phone number"
	}
	return "person id"
}

// fail is an error answer: one line that says what to type instead.
func fail(text string) Reply {
	return Reply{Text: strings.Join(strings.Fields(text), " "), Error: true}
}

// failErr turns a store error into an answer. Redis unreachable and Redis
// too slow to answer are told apart (store.Health): only the first is an
// outage. In an outage, "nothing was changed" is said only when the
// command's connection could not be made (store.NotSent); one that broke
// under it may have carried the change first, so that is not said then.
func (s *Service) failErr(err error, what string) Reply {
	switch {
	case errors.Is(err, store.ErrUnavailable) && s.st.Health().Confirm(context.Background(), err):
		if !store.NotSent(err) {
			return fail("Records are unavailable right now (" + what + "): they stopped answering while muster recorded this, so it may not have been recorded. Check before you try again; if it is urgent, phone the control room.")
		}
		return fail("Records are unavailable right now (" + what + "): nothing was changed. Try again in a minute; if it is urgent, phone the control room.")
	case errors.Is(err, store.ErrUnavailable):
		r := fail("muster is overloaded: its records did not answer in time (" + what + "), so this may not have been recorded. Check before you try again; if it is urgent, phone the control room.")
		r.Busy = true
		return r
	case errors.Is(err, store.ErrNotReplicated):
		return fail("Saved, but not yet confirmed by a replica (" + what + "): muster has it; do not send it again. /incident list and /plan status show it.")
	case errors.Is(err, store.ErrNotFound):
		return fail("There is no " + what + ". /incident list and /plan status show what there is.")
	case errors.Is(err, store.ErrReplayed):
		// The adapter refuses the request itself; this is for the record.
		return fail("That request was already handled (" + what + "): nothing was changed.")
	}
	return fail(what + " failed: " + err.Error())
}

// notConfirmed is the line added to a change that was saved but that no
// replica confirmed in time (redis wait_replicas): it stands, and sending
// it again would make a second one.
func notConfirmed(id string) string {
	return id + " was saved but not yet confirmed by a replica: do not send it again; muster has it."
}

// siteArg pulls an "@site" argument out of args. It returns the site
// (nil if none was given), the remaining args, and an answer when the
// site is unknown.
func (s *Service) siteArg(args []string) (*configs.Site, []string, *Reply) {
	for i, a := range args {
		if !strings.HasPrefix(a, "@") || len(a) < 2 {
			continue
		}
		id := strings.ToLower(a[1:])
		site, ok := s.cfg().Site(id)
		if !ok {
			r := fail(fmt.Sprintf("Unknown site @%s. Sites: %s.", id, s.siteList()))
			return nil, args, &r
		}
		rest := append(append([]string{}, args[:i]...), args[i+1:]...)
		return site, rest, nil
	}
	return nil, args, nil
}

func (s *Service) siteList() string {
	ids := make([]string, len(s.cfg().Sites))
	for i, st := range s.cfg().Sites {
		ids[i] = "@" + st.ID
	}
	return strings.Join(ids, ", ")
}

// defaultSite is the site a command means when it names none: the site
// whose channel it was typed in, the only site, or the site the person is
// rostered at.
func (s *Service) defaultSite(c *call) (*configs.Site, bool) {
	if c.req.Channel != "" {
		for i := range s.cfg().Sites {
			ch := s.cfg().Sites[i].Channels
			if c.req.Channel == ch.Slack || c.req.Channel == ch.Discord {
				return &s.cfg().Sites[i], true
			}
		}
	}
	if len(s.cfg().Sites) == 1 {
		return &s.cfg().Sites[0], true
	}
	var found *configs.Site
	for _, r := range s.cfg().Rosters {
		for _, p := range r.Rotation.People {
			if p != c.who.ID {
				continue
			}
			site, _ := s.cfg().Site(r.Site)
			if found != nil && found.ID != site.ID {
				return nil, false // rostered at several sites: ambiguous
			}
			found = site
		}
	}
	return found, found != nil
}

// personName is a person's display name, or the id if unknown.
func (s *Service) personName(id string) string {
	if p, ok := s.cfg().Person(id); ok {
		return p.Name
	}
	return id
}

func (s *Service) siteName(id string) string {
	if st, ok := s.cfg().Site(id); ok {
		return st.Name
	}
	return id
}

// localTime formats an instant in the organization's zone.
func (s *Service) localTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	lt := t.In(s.cfg().Location())
	now := s.now().In(s.cfg().Location())
	if lt.YearDay() == now.YearDay() && lt.Year() == now.Year() {
		return lt.Format("15:04")
	}
	return lt.Format("Mon 2 Jan 15:04")
}
