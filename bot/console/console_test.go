package console_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muster-ops/muster/bot/console"
	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/notify"
)

// saturday0800 is Sat 28 Nov 2026 08:00 in London.
var saturday0800 = time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)

// syncBuffer is an io.Writer safe for the console's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// harness is a console wired as `muster console` wires it: the console
// is the chat, SMS and voice surface of the service's fan-out.
type harness struct {
	con   *console.Console
	out   *syncBuffer
	waits []time.Duration
}

func newHarness(t *testing.T, as string) *harness {
	t.Helper()
	cfg, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return saturday0800 }
	st := storetest.Open(t, clock)
	disp := notify.NewDispatcher(nil)
	svc := commands.New(commands.Options{Config: cfg, Store: st, Now: clock})
	del := notify.NewDeliverer(st, disp, nil, "console-test", time.Minute)
	h := &harness{out: &syncBuffer{}}
	h.con, err = console.New(console.Options{Service: svc, As: as, Out: h.out,
		Settle: func(ctx context.Context) {
			if _, err := del.Drain(ctx); err != nil {
				t.Errorf("drain: %v", err)
			}
		},
		Wait: func(_ context.Context, d time.Duration) error {
			h.waits = append(h.waits, d)
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	disp.AddChat(h.con)
	disp.SetSMS(h.con)
	disp.SetVoice(h.con)
	return h
}

func TestRunPiped(t *testing.T) {
	h := newHarness(t, "amara")
	in := strings.Join([]string{
		"# a rehearsal script: comments and blank lines print nothing",
		"",
		"   # an indented comment",
		"/incident raise intrusion sev2 @harbour Fence cut near gate B",
		"/incident resolve INC-1 done",
		":as farid",
		"/muster whoami",
		":wait 0s",
		":wait 90s",
		":frobnicate",
		":as nobody",
		":wait soon",
		"/incident resolve INC-1 Fence repaired",
		"/incident list all",
		":quit",
		"/incident raise fire @harbour after quit: never run",
	}, "\n")
	if err := h.con.Run(context.Background(), strings.NewReader(in)); err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := strings.Split(strings.TrimSuffix(h.out.String(), "\n"), "\n")
	want := []string{
		"→ chat #harbour: INC-1 raised: sev2 intrusion at Harbour Point HQ by Amara Okafor: Fence cut near gate B",
		"INC-1 raised: sev2 intrusion at Harbour Point HQ by Amara Okafor: Fence cut near gate B",
		"Only a supervisor, control or a coordinator may resolve an incident; you are guard, first-aider. Add what you know with /incident update INC-1 <text>.",
		"Now typing as Farid Haddad (farid, supervisor, guard).",
		"You are Farid Haddad (farid), supervisor, guard at Northgate Security.",
		"sia-licence valid until 2028-03-31",
		"Unknown console directive :frobnicate; try :as, :wait, :quit or :help",
		`No person "nobody". People: amara, ben, chloe, dev, elena, farid, grace, hugo, ines, jonah`,
		`"soon" is not a duration; try :wait 90s or :wait 5m`,
		"→ chat #harbour: INC-1 resolved by Farid Haddad at 08:00: Fence repaired",
		"INC-1 resolved by Farid Haddad at 08:00: Fence repaired",
		"Incidents (1, newest first):",
		"INC-1  08:00  sev2     resolved     @harbour  intrusion  Fence cut near gate B",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("output:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(h.waits) != 2 || h.waits[0] != 0 || h.waits[1] != 90*time.Second {
		t.Errorf("waits = %v, want [0s 1m30s]", h.waits)
	}
	if h.con.As() != "farid" {
		t.Errorf("As() = %q after :as farid and a failed :as, want farid", h.con.As())
	}
}

func TestNewAs(t *testing.T) {
	// No --as: the first coordinator types.
	if h := newHarness(t, ""); h.con.As() != "jonah" {
		t.Errorf("default As = %q, want jonah (the only coordinator)", h.con.As())
	}
	cfg, _ := configs.Example()
	svc := commands.New(commands.Options{Config: cfg, Store: storetest.Open(t, nil)})
	_, err := console.New(console.Options{Service: svc, As: "zoe", Out: &syncBuffer{}})
	if err == nil || !strings.Contains(err.Error(), `"zoe"`) || !strings.Contains(err.Error(), "amara") {
		t.Errorf("New(As: zoe) error = %v, want one naming zoe and the people", err)
	}
}

func TestFormatMessage(t *testing.T) {
	h := newHarness(t, "amara")
	for _, tc := range []struct {
		name string
		m    notify.Message
		want string
	}{
		{"chat to a site", notify.Message{Channel: notify.Chat, Site: "harbour", Kind: "incident", Ref: "INC-1", Text: "INC-1 raised: Fence cut"},
			"→ chat #harbour: INC-1 raised: Fence cut"},
		{"chat to a person", notify.Message{Channel: notify.Chat, To: "amara", Kind: "task", Ref: "T-3", Text: "T-3 Sweep floors"},
			"→ chat @amara (Amara Okafor): T-3 Sweep floors"},
		{"sms", notify.Message{Channel: notify.SMS, To: "amara", Kind: "task", Ref: "T-3", Text: "T-3 Sweep floors. Reply ACK 3"},
			"→ sms amara (***0101): T-3 Sweep floors. Reply ACK 3"},
		{"voice", notify.Message{Channel: notify.Voice, To: "ben", Text: "Task T-3 is waiting"},
			"→ voice ben (***0102): Task T-3 is waiting"},
		{"several lines become one", notify.Message{Channel: notify.Chat, Site: "depot", Text: "LOCKDOWN\nstay out of sight"},
			"→ chat #depot: LOCKDOWN / stay out of sight"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := h.con.FormatMessage(tc.m); got != tc.want {
				t.Errorf("FormatMessage = %q, want %q", got, tc.want)
			}
		})
	}
	if got := h.con.FormatMessage(notify.Message{Channel: notify.SMS, To: "amara", Text: "x"}); strings.Contains(got, "+447700900101") {
		t.Errorf("FormatMessage shows the full phone number: %q", got)
	}

	// Notify prints the same line.
	if _, err := h.con.Notify(context.Background(), notify.Message{Channel: notify.SMS, To: "amara", Text: "ACK?"}); err != nil {
		t.Fatal(err)
	}
	if got := h.out.String(); got != "→ sms amara (***0101): ACK?\n" {
		t.Errorf("Notify printed %q", got)
	}
}

// TestRunStopsOnCancel: a cancelled context ends Run before the next line.
func TestRunStopsOnCancel(t *testing.T) {
	h := newHarness(t, "amara")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.con.Run(ctx, strings.NewReader("/muster whoami\n")); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := h.out.String(); got != "" {
		t.Errorf("after cancel, output = %q, want nothing", got)
	}
}
