package commands_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// saturday0800 is Sat 28 Nov 2026 08:00 in London (GMT, so also UTC):
// one hour into the 07:00-19:00 day shift of the example's rosters.
var saturday0800 = time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)

// recorder keeps every fan-out message: sent() first delivers what the
// commands queued on the outbox, through the real Deliverer.
type recorder struct {
	mu    sync.Mutex
	msgs  []notify.Message
	drain func()
}

func (r *recorder) Notify(_ context.Context, m notify.Message) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return false, nil
}

func (r *recorder) sent() []notify.Message {
	if r.drain != nil {
		r.drain()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notify.Message(nil), r.msgs...)
}

// fixture is a Service on the example config over a fresh test store,
// with a clock that only moves when the test sets it.
type fixture struct {
	svc *commands.Service
	st  *store.Store
	out *recorder
	cfg *configs.Config

	// mu guards now.
	mu  sync.Mutex
	now time.Time
}

func newFixture(t *testing.T, now time.Time) *fixture {
	t.Helper()
	cfg, err := configs.Example()
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	f := &fixture{cfg: cfg, out: &recorder{}, now: now}
	f.st = storetest.Open(t, f.clock)
	f.svc = commands.New(commands.Options{Config: cfg, Store: f.st, Now: f.clock})
	del := notify.NewDeliverer(f.st, f.out, nil, "commands-test", time.Minute)
	f.out.drain = func() {
		if _, err := del.Drain(context.Background()); err != nil {
			t.Errorf("drain outbox: %v", err)
		}
	}
	return f
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// set moves the clock (the service's and the store's) to t.
func (f *fixture) set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = t
}

// as runs text in the console as the person with that id.
func (f *fixture) as(t *testing.T, person, text string) commands.Reply {
	t.Helper()
	return f.svc.Handle(context.Background(), commands.Request{Platform: commands.PlatformConsole, UserID: person, Text: text})
}

// mustOK runs text as person and fails the test unless it succeeded.
func (f *fixture) mustOK(t *testing.T, person, text string) commands.Reply {
	t.Helper()
	r := f.as(t, person, text)
	if r.Error {
		t.Fatalf("%s: %q: got error reply %q", person, text, r.Text)
	}
	return r
}

// checkUsage asserts the reply is a refusal of exactly one line that
// contains every hint (what to type instead).
func checkUsage(t *testing.T, r commands.Reply, hints ...string) {
	t.Helper()
	if !r.Error {
		t.Errorf("reply %q: Error = false, want true", r.Text)
	}
	if r.Public {
		t.Errorf("reply %q: a refusal must not be public", r.Text)
	}
	if r.Text == "" || strings.ContainsAny(r.Text, "\r\n") {
		t.Errorf("reply %q: want exactly one non-empty line", r.Text)
	}
	for _, h := range hints {
		if !strings.Contains(r.Text, h) {
			t.Errorf("reply %q: want it to contain %q", r.Text, h)
		}
	}
}

// TestMalformedCommands: every malformed command is answered with one
// line that says what to type, and nothing is recorded or sent.
func TestMalformedCommands(t *testing.T) {
	for _, tc := range []struct {
		name, as, text string
		hints          []string
	}{
		{"unknown command", "amara", "/frobnicate now", []string{"Unknown command /frobnicate", "/incident", "/muster help"}},
		{"unknown command without slash", "amara", "hello there", []string{"Unknown command /hello", "/muster help"}},
		{"incident alone", "amara", "/incident", []string{"Usage: /incident raise <category>", "list", "show INC-n", "resolve INC-n"}},
		{"incident unknown subcommand", "amara", "/incident explode INC-1", []string{"Unknown /incident explode", "Usage: /incident raise"}},
		{"raise alone", "amara", "/incident raise", []string{"Usage: /incident raise <category> [sev1..sev4] [@site] <text>", "intrusion", "fire"}},
		{"raise with only a site", "amara", "/incident raise @harbour", []string{"Usage: /incident raise <category>"}},
		{"unknown category", "amara", "/incident raise alien sev2 @harbour Lights in the sky", []string{`Unknown category "alien"`, "intrusion", "suspicious-activity"}},
		{"unknown site", "amara", "/incident raise intrusion sev2 @nowhere Fence cut", []string{"Unknown site @nowhere", "@harbour", "@depot"}},
		{"unknown site before category", "amara", "/incident raise @nowhere intrusion Fence cut", []string{"Unknown site @nowhere"}},
		{"missing text", "amara", "/incident raise intrusion sev2 @harbour", []string{"Say what happened", "/incident raise intrusion sev2 @harbour <"}},
		{"missing text, no severity", "amara", "/incident raise fire @depot", []string{"Say what happened", "/incident raise fire sev3 @depot <"}},
		{"show bad id", "amara", "/incident show INC-x", []string{"INC-x", "Usage: /incident show INC-n"}},
		{"show no id", "amara", "/incident show", []string{"Usage: /incident show INC-n"}},
		{"show no such incident", "amara", "/incident show INC-42", []string{"There is no INC-42", "/incident list"}},
		{"show no such incident says what to type", "amara", "/incident show INC-42", []string{"INC-42", "/incident list"}},
		{"resolve no such incident", "farid", "/incident resolve INC-99 x", []string{"There is no INC-99", "/incident list"}},
		{"resolve without summary", "farid", "/incident resolve INC-1", []string{"Usage: /incident resolve INC-n <summary"}},
		{"update no such incident", "amara", "/incident update INC-7 more smoke", []string{"There is no INC-7"}},
		{"list bad filter", "amara", "/incident list yesterday", []string{"Usage: /incident list [open|all] [@site]"}},
		{"text over the limit", "amara", "/incident raise intrusion @harbour " + strings.Repeat("x", commands.MaxInput), []string{"at most 2000", "Shorten"}},
		{"empty input", "amara", "", []string{"Type a command", "/incident raise", "/muster help"}},
		{"blank input", "amara", " \t ", []string{"Type a command", "/muster help"}},
		{"roster unknown site", "amara", "/roster @nowhere", []string{"Unknown site @nowhere", "@harbour"}},
		{"roster bad word", "amara", "/roster @harbour tomorrow", []string{`"tomorrow"`, "Usage: /roster"}},
		{"cover unknown roster", "farid", "/roster cover moon-guard dev now 4h", []string{`Unknown roster "moon-guard"`, "harbour-guard"}},
		{"cover unknown person", "farid", "/roster cover harbour-guard zoe now 4h", []string{`Unknown person "zoe"`}},
		{"cover bad time", "farid", "/roster cover harbour-guard dev now soon", []string{`"soon" is not a time`, "Usage: /roster cover"}},
		{"cover missing args", "farid", "/roster cover harbour-guard dev", []string{"Usage: /roster cover <roster> <person> <from> <to>"}},
		{"muster unknown", "amara", "/muster dance", []string{"Usage: /muster help, /muster whoami, /muster status, /muster board"}},
		// A quoted argument may hold a line break; the answer stays one line.
		{"unknown command with a line break", "amara", "\"/foo\nbar\"", []string{"Unknown command", "/muster help"}},
		{"unknown subcommand with a line break", "amara", "/incident \"raise\nx\"", []string{"Unknown /incident", "Usage: /incident raise"}},
		{"unknown site with a line break", "amara", "/incident raise intrusion \"@har\nbour\" x", []string{"Unknown site", "@harbour"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, saturday0800)
			r := f.as(t, tc.as, tc.text)
			checkUsage(t, r, tc.hints...)
			if sent := f.out.sent(); len(sent) != 0 {
				t.Errorf("a refused command sent %d message(s): %+v", len(sent), sent)
			}
			list, err := f.st.ListIncidents(context.Background(), store.IncidentFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 0 {
				t.Errorf("a refused command recorded %d incident(s)", len(list))
			}
		})
	}
}

// TestUnknownUser: someone the config does not know gets one line saying
// so, whatever the command, and nothing is recorded.
func TestUnknownUser(t *testing.T) {
	for _, req := range []commands.Request{
		{Platform: commands.PlatformSlack, UserID: "U0NOBODY", Text: "/incident raise intrusion @harbour Fence cut"},
		{Platform: commands.PlatformDiscord, UserID: "1", Text: "/roster"},
		{Platform: commands.PlatformSMS, UserID: "+447700900999", Text: "STATUS"},
		{Platform: commands.PlatformConsole, UserID: "mallory", Text: "/muster whoami"},
		// A Slack user id is not a person id, nor the other way round.
		{Platform: commands.PlatformConsole, UserID: "U0AMARA", Text: "/muster whoami"},
		{Platform: commands.PlatformSlack, UserID: "amara", Text: "/muster whoami"},
		{Platform: commands.PlatformSlack, UserID: "", Text: "/muster whoami"},
	} {
		t.Run(req.Platform+"/"+req.UserID, func(t *testing.T) {
			f := newFixture(t, saturday0800)
			r := f.svc.Handle(context.Background(), req)
			checkUsage(t, r)
			if !strings.Contains(strings.ToLower(r.Text), "you are not on this organization's roster") {
				t.Errorf("reply %q: want it to say you are not on this organization's roster", r.Text)
			}
			if len(f.out.sent()) != 0 {
				t.Errorf("an unknown user's command sent messages: %+v", f.out.sent())
			}
			list, _ := f.st.ListIncidents(context.Background(), store.IncidentFilter{})
			if len(list) != 0 {
				t.Errorf("an unknown user's command recorded %d incident(s)", len(list))
			}
		})
	}
}

// TestIdentifyPerPlatform: each platform's id maps to the same person.
func TestIdentifyPerPlatform(t *testing.T) {
	f := newFixture(t, saturday0800)
	for _, req := range []commands.Request{
		{Platform: commands.PlatformConsole, UserID: "farid"},
		{Platform: commands.PlatformSlack, UserID: "U0FARID"},
		{Platform: commands.PlatformDiscord, UserID: "1100000000000000106"},
		{Platform: commands.PlatformSMS, UserID: "+447700900106"},
	} {
		req.Text = "/muster whoami"
		r := f.svc.Handle(context.Background(), req)
		if r.Error || !strings.HasPrefix(r.Text, "You are Farid Haddad (farid), supervisor, guard at Northgate Security.") {
			t.Errorf("%s %s: whoami = %q (error %v), want Farid Haddad", req.Platform, req.UserID, r.Text, r.Error)
		}
	}
}

func TestHelp(t *testing.T) {
	f := newFixture(t, saturday0800)
	for _, text := range []string{"/muster help", "/muster", "/help", "/MUSTER HELP"} {
		r := f.mustOK(t, "amara", text)
		if r.Text != commands.HelpText+"\n"+commands.ConsoleHelpText {
			t.Errorf("%q = %q, want the help text and the console's lines", text, r.Text)
		}
		r = f.svc.Handle(context.Background(), commands.Request{Platform: commands.PlatformSlack, UserID: "U0AMARA", Text: text})
		if r.Error || r.Text != commands.HelpText {
			t.Errorf("%q on Slack = %q, want the help text alone", text, r.Text)
		}
	}
}

// TestHelpListsTheWholeGrammar: every command a person can type is in
// /muster help, in the form help gives, and muster accepts it (it may
// refuse for a reason, never as an unknown command or a usage error).
func TestHelpListsTheWholeGrammar(t *testing.T) {
	// grammar is every command, in order: later lines use the records
	// earlier ones made (INC-1, A-1, T-1, D-1).
	grammar := []struct {
		form string // as /muster help shows it
		line string // an instance of it, typed by a coordinator
	}{
		{"/incident raise <category> [sev1..sev4] [@site] <text>", "/incident raise fire sev2 @harbour smoke"},
		{"/incident list [open|all] [@site]", "/incident list all @harbour"},
		{"/incident show INC-n", "/incident show INC-1"},
		{"/incident update INC-n <text>", "/incident update INC-1 more smoke"},
		{"/incident ack INC-n", "/incident ack INC-1"},
		{"/incident resolve INC-n <summary>", "/incident resolve INC-1 out"},
		{"/incident hold|release INC-n [reason]", "/incident hold INC-1 insurer"},
		{"/incident severity INC-n sev1..sev4", "/incident severity INC-1 sev1"},
		{"/incident notified INC-n <obligation> <reference>", "/incident notified INC-1 insurer-fire claim 77"},
		{"/incident send INC-n <contact> <text>", "/incident send INC-1 police fire at the harbour"},
		{"/plan list", "/plan list"},
		{"/plan show <plan>", "/plan show fire-evacuation"},
		{"/plan trigger <plan> [@site] [INC-n] [note]", "/plan trigger fire-evacuation @harbour INC-1 smoke"},
		{"/plan status [A-n]", "/plan status A-1"},
		{"/plan standdown A-n [note]", "/plan standdown A-1 all clear"},
		{"/plan dryrun <plan> [@site]", "/plan dryrun fire-evacuation @depot"},
		{"/roster [@site] [now|next|week] [role]", "/roster @harbour next guard"},
		{"/roster cover <roster> <person> <from> <to>", "/roster cover harbour-guard chloe now 1h"},
		{"/ack [T-n] [note]", "/ack T-1 on my way"},
		{"/done T-n [note]", "/done T-2 all clear"},
		{"/drill start <plan> [@site]", "/drill start intruder-lockdown @depot"},
		{"/drill stop D-n", "/drill stop D-1"},
		{"/drill report D-n", "/drill report D-1"},
		{"/drill action D-n <text>", "/drill action D-1 brief the gate team"},
		{"/muster help | whoami | status", "/muster status"},
		{"/muster board", "/muster board"},
		{"/muster board logout [person]", "/muster board logout amara"},
	}
	for _, tc := range grammar {
		if !strings.Contains(commands.HelpText, tc.form) {
			t.Errorf("/muster help does not show %q", tc.form)
		}
	}
	f := newFixture(t, saturday0800)
	for _, tc := range grammar {
		r := f.as(t, "jonah", tc.line)
		if r.Error && (strings.Contains(r.Text, "Unknown") || strings.Contains(r.Text, "Usage:")) {
			t.Errorf("%s: %q", tc.line, r.Text)
		}
	}
}
