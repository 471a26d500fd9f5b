package commands_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/configs/roster"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
	"github.com/muster-ops/muster/store/journal"
)

// TestDegradedRollCallRecordedOnce: with Redis stopped, /rollcall start
// asks everyone on duty at Harbour Point by SMS (through the real Twilio
// client) and journals it; answers come by SMS to two processes, each
// journalling its own: a SAFE and a HELP (which pages the supervisor and
// control directly) to this one, a SAFE to another. Redis returns: the
// other process replays first (its answer waits for the roll call), then
// this one. One R-n holds every answer at the time it was given, the HELP
// with its sev1 incident; replaying every journal again, or a copy of it
// on a third replica, writes nothing more.
func TestDegradedRollCallRecordedOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o := newOutage(t)
	var onDuty []string
	phone := map[string]string{}
	for _, sh := range roster.Everyone(o.cfg, "harbour", o.now, nil) {
		onDuty = append(onDuty, sh.Person.ID)
		phone[sh.Person.ID] = sh.Person.Phone
	}
	if len(onDuty) < 4 {
		t.Fatalf("on duty at harbour: %v; the test wants four or more", onDuty)
	}
	safe1, help, safe2 := onDuty[0], onDuty[1], onDuty[2]
	firstWait := notify.RollCallSteps(o.cfg)[0].Wait.D()
	if firstWait <= 0 {
		t.Fatalf("the example's roll-call policy waits %v before its reminder; the test wants a wait", firstWait)
	}

	// A second process on the same Redis, with its own journal.
	st2, err := store.Open(ctx, store.Options{URL: o.redis.URL(), Namespace: o.st.Namespace(), Now: func() time.Time { return o.now }})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	j2, err := journal.Open(journal.Options{Path: filepath.Join(t.TempDir(), "second.journal"), Records: st2})
	if err != nil {
		t.Fatal(err)
	}
	st2.UseSeenLog(j2, j2.Seen())
	chat2 := &recorder{}
	svc2 := commands.New(commands.Options{Config: o.cfg, Store: st2, Now: func() time.Time { return o.now }, Degraded: chat2, Journal: j2})
	t.Cleanup(svc2.WaitDegraded)

	o.redis.Kill()
	r := timed(t, o.svc, "farid", "/rollcall start @harbour assembly point B")
	if r.Error || !strings.Contains(r.Text, "DEGRADED MODE") || !strings.Contains(r.Text, "journal dg-") || !r.Public {
		t.Fatalf("start = %+v", r)
	}
	err = o.twilio.WaitFor(ctx, func() bool {
		got := map[string]bool{}
		for _, m := range o.twilio.Messages() {
			if strings.Contains(m.Body, "Roll call at Harbour Point HQ: are you safe? Reply SAFE or HELP") {
				got[m.To] = true
			}
		}
		for _, p := range onDuty {
			if !got[phone[p]] {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("roll call by SMS: want one to each of %v, got %+v: %v", onDuty, o.twilio.Messages(), err)
	}
	o.svc.WaitDegraded()

	sms := func(svc *commands.Service, person, text string) commands.Reply {
		t.Helper()
		start := time.Now()
		r := svc.Handle(ctx, commands.Request{Platform: commands.PlatformSMS, UserID: phone[person], Text: text})
		if d := time.Since(start); d > replyBudget {
			t.Errorf("SMS %q answered after %v", text, d)
		}
		if r.Error {
			t.Fatalf("SMS %q from %s: %q", text, person, r.Text)
		}
		return r
	}
	answeredAt := map[string]time.Time{}
	started := o.now
	o.now = o.now.Add(30 * time.Second)
	answeredAt[safe1] = o.now
	if r := sms(o.svc, safe1, "SAFE"); !strings.Contains(r.Text, "your SAFE at 08:00 is kept") {
		t.Errorf("SAFE while degraded: %q", r.Text)
	}
	o.now = o.now.Add(30 * time.Second)
	answeredAt[safe2] = o.now
	if r := sms(svc2, safe2, "safe"); !strings.Contains(r.Text, "is kept") {
		t.Errorf("SAFE to the second process: %q", r.Text)
	}
	o.now = o.now.Add(30 * time.Second)
	answeredAt[help] = o.now
	twBefore := len(o.twilio.Messages())
	if r := sms(o.svc, help, "HELP stuck in the lift"); !strings.Contains(r.Text, "raises a sev1 incident when they return") || !strings.Contains(r.Text, "Paged by SMS") {
		t.Errorf("HELP while degraded: %q", r.Text)
	}
	o.svc.WaitDegraded()
	svc2.WaitDegraded()
	var pages int
	for _, m := range o.twilio.Messages()[twBefore:] {
		if strings.Contains(m.Body, "HELP:") && strings.Contains(m.Body, "stuck in the lift") {
			pages++
		}
	}
	if pages == 0 {
		t.Errorf("the HELP paged nobody directly: %+v", o.twilio.Messages()[twBefore:])
	}

	// Redis returns. The second process replays first: its SAFE waits
	// for a roll call it cannot see yet.
	o.redis.Restart()
	o.now = o.now.Add(5 * time.Minute)
	waitUntil(ctx, t, "Redis back", func() bool { return st2.Ping(ctx) == nil && o.st.Ping(ctx) == nil })
	if res, err := j2.Replay(ctx); err != nil || res.Recorded != 1 || res.Activations[0] != "pending" {
		t.Fatalf("second process's replay = %+v, %v", res, err)
	}
	raw, err := os.ReadFile(o.journal.Path())
	if err != nil {
		t.Fatal(err)
	}
	res, err := o.journal.Replay(ctx)
	if err != nil || res.Recorded != 3 {
		t.Fatalf("replay = %+v, %v", res, err)
	}
	rc, err := o.st.RollCall(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rc.ID() != "R-1" || rc.By != "farid" || rc.Note != "assembly point B" || !rc.Created.Equal(started) ||
		rc.Total != int64(len(onDuty)) || rc.Safe != 2 || rc.Help != 1 || rc.Status != store.RollCallOpen {
		t.Fatalf("recorded roll call = %+v", rc)
	}
	people, err := o.st.RollCallPeople(ctx, rc.Num)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range people {
		switch p.Person {
		case safe1, safe2:
			if p.Status != store.AnswerSafe || !p.Answered.Equal(answeredAt[p.Person]) || !p.Accounted.Equal(answeredAt[p.Person]) {
				t.Errorf("%s: %s at %s, want safe at %s", p.Person, p.Status, p.Answered, answeredAt[p.Person])
			}
		case help:
			if p.Status != store.AnswerHelp || !p.Answered.Equal(answeredAt[help]) || p.Incident != 1 || p.Note != "stuck in the lift" {
				t.Errorf("%s: %+v, want help at %s with INC-1", p.Person, p, answeredAt[help])
			}
		default:
			if p.Status != store.TaskOpen {
				t.Errorf("%s never answered but is %s", p.Person, p.Status)
			}
			// Asked by the degraded SMS: next is the reminder, a first
			// wait after it, not the question again at once.
			tk, err := o.st.Task(ctx, p.Task)
			if err != nil {
				t.Fatal(err)
			}
			if due := started.Add(firstWait); tk.Step != 1 || !tk.Due.Equal(due) || !p.Asked.Equal(started) {
				t.Errorf("%s: step %d due %s (asked %s), want step 1 due %s", p.Person, tk.Step, tk.Due, p.Asked, due)
			}
		}
	}
	inc, err := o.st.Incident(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if inc.Severity != "sev1" || inc.Site != "harbour" || inc.Reporter != help || !strings.Contains(inc.Text, "needs help (R-1): stuck in the lift") {
		t.Errorf("incident = %+v", inc)
	}
	if v := storetest.SealAndVerify(t, o.st); !v.OK() {
		t.Fatalf("audit verify: %v", v.Problem)
	}
	before := safetySnapshot(ctx, t, o.st)

	// Again, from both processes and from a third with a copy of the
	// first journal: nothing more is written.
	if res, err := o.journal.Replay(ctx); err != nil || res.Recorded+res.Already != 0 {
		t.Fatalf("second replay = %+v, %v", res, err)
	}
	if res, err := j2.Replay(ctx); err != nil || res.Recorded+res.Already != 0 {
		t.Fatalf("second process's second replay = %+v, %v", res, err)
	}
	path3 := filepath.Join(t.TempDir(), "third.journal")
	if err := os.WriteFile(path3, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	j3, err := journal.Open(journal.Options{Path: path3, Records: st2})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := j3.Replay(ctx); err != nil || res.Recorded != 0 || res.Already != 3 {
		t.Fatalf("third replica's replay = %+v, %v", res, err)
	}
	if after := safetySnapshot(ctx, t, o.st); after != before {
		t.Fatalf("records changed by the repeated replays: %+v, before %+v", after, before)
	}
}

type safetyCounts struct {
	rollcalls, tasks, incidents, auditSeq int64
	safe, help                            int64
}

func safetySnapshot(ctx context.Context, t *testing.T, st *store.Store) safetyCounts {
	t.Helper()
	rcs, err := st.Client().ZCard(ctx, st.Key("rollcalls")).Result()
	if err != nil {
		t.Fatal(err)
	}
	tasks, _ := st.Client().Get(ctx, st.Key("seq", "task")).Int64()
	incs, _ := st.Client().Get(ctx, st.Key("seq", "incident")).Int64()
	rc, err := st.RollCall(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Seal(t, st)
	h, err := st.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return safetyCounts{rcs, tasks, incs, h.Seq, rc.Safe, rc.Help}
}
