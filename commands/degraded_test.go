package commands_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/configs/roster"
	"github.com/muster-ops/muster/internal/faketwilio"
	"github.com/muster-ops/muster/internal/redistest"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/notify/twilio"
	"github.com/muster-ops/muster/store"
	"github.com/muster-ops/muster/store/journal"
)

// replyBudget is how long a chat platform waits for an answer.
const replyBudget = 3 * time.Second

// outage is a muster process on its own redis-server, which the test can
// take away: a Service in degraded mode whose direct notifier is a
// Dispatcher with a recording chat surface and the real Twilio client
// pointed at the fake Twilio.
type outage struct {
	redis   *redistest.Single
	cfg     *configs.Config
	st      *store.Store
	svc     *commands.Service
	journal *journal.Journal
	chat    *recorder
	twilio  *faketwilio.Server
	now     time.Time
}

func newOutage(t *testing.T) *outage {
	t.Helper()
	o := &outage{redis: redistest.StartSingle(t), chat: &recorder{}, now: saturday0800}
	cfg, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	o.cfg = cfg
	clock := func() time.Time { return o.now }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	o.st, err = store.Open(ctx, store.Options{URL: o.redis.URL(), Namespace: storetest.Namespace(), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.st.Close() })

	const sid, token = "AC00000000000000000000000000000001", "faketoken0000000000000000000000a"
	o.twilio = faketwilio.New(sid, token)
	srv := httptest.NewServer(o.twilio)
	t.Cleanup(func() { o.twilio.Close(); srv.Close() })
	tw, err := twilio.New(twilio.Options{AccountSID: sid, AuthToken: token, From: cfg.Twilio.From, APIURL: srv.URL,
		PublicURL: "https://muster.example.com", People: cfg, Deliveries: o.st})
	if err != nil {
		t.Fatal(err)
	}
	disp := notify.NewDispatcher(nil)
	disp.AddChat(o.chat)
	disp.SetSMS(tw)
	disp.SetVoice(tw)

	o.journal, err = journal.Open(journal.Options{Path: filepath.Join(t.TempDir(), "server.journal"), Records: o.st,
		Interval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	o.st.UseSeenLog(o.journal, o.journal.Seen())
	o.svc = commands.New(commands.Options{Config: cfg, Store: o.st, Now: clock, Degraded: disp, Journal: o.journal})
	t.Cleanup(o.svc.WaitDegraded)
	return o
}

// timed runs a command as person and fails the test unless it answered
// within replyBudget.
func timed(t *testing.T, svc *commands.Service, person, text string) commands.Reply {
	t.Helper()
	start := time.Now()
	r := svc.Handle(context.Background(), commands.Request{Platform: commands.PlatformConsole, UserID: person, Text: text})
	if d := time.Since(start); d > replyBudget {
		t.Errorf("%q answered after %v, want within %v: %q", text, d.Round(time.Millisecond), replyBudget, r.Text)
	}
	return r
}

// waitUntil polls cond every 10ms until it holds or ctx ends.
func waitUntil(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// TestDegradedTriggerCallsOutAndReplaysOnce: with Redis stopped, a plan
// trigger answers within 3 s, reaches the fake Twilio for every on-duty
// person and the site channel through the chat notifier, and is journaled;
// once Redis is back the journal replays into the records once, and a
// second replay or a second replica with the same journal writes nothing.
func TestDegradedTriggerCallsOutAndReplaysOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o := newOutage(t)
	plan, _ := o.cfg.Plan("fire-evacuation")
	want := map[string]string{} // phone -> person on duty
	var assignees []string
	for _, task := range plan.Tasks {
		sh, ok := roster.OnDuty(o.cfg, "harbour", task.Role, o.now, nil)
		if !ok || sh.Person == nil {
			t.Fatalf("nobody on duty as %s at harbour at %v", task.Role, o.now)
		}
		want[sh.Person.Phone] = sh.Person.ID
		assignees = append(assignees, sh.Person.ID)
	}
	if len(want) < 2 {
		t.Fatalf("on duty: %v; the test wants several people", want)
	}

	o.redis.Kill()
	r := timed(t, o.svc, "farid", "/plan trigger fire-evacuation @harbour smoke on level 3")
	if !strings.HasPrefix(r.Text, "Records are unavailable") || !strings.Contains(r.Text, "DEGRADED MODE") || !r.Public {
		t.Fatalf("reply = %+v", r)
	}

	// Every on-duty person gets an SMS through the real Twilio client.
	err := o.twilio.WaitFor(ctx, func() bool {
		got := map[string]bool{}
		for _, m := range o.twilio.Messages() {
			got[m.To] = true
		}
		for phone := range want {
			if !got[phone] {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("SMS call-out: want a message to each of %v, got %+v: %v", want, o.twilio.Messages(), err)
	}
	o.svc.WaitDegraded()
	for _, m := range o.twilio.Messages() {
		if !strings.Contains(m.Body, "FIRE EVACUATION at Harbour Point HQ") || !strings.Contains(m.Body, "confirm by phone") ||
			len(m.Body) > notify.SMSLimit {
			t.Errorf("SMS body %q", m.Body)
		}
	}
	var broadcasts []notify.Message
	for _, m := range o.chat.sent() {
		if m.Kind == "broadcast" && m.Site == "harbour" && m.Channel == notify.Chat {
			broadcasts = append(broadcasts, m)
		}
	}
	if len(broadcasts) != 1 || !strings.Contains(broadcasts[0].Text, plan.Broadcast) {
		t.Fatalf("site broadcasts = %+v", broadcasts)
	}

	// One fsync'd line in the journal, with the assignments.
	raw, err := os.ReadFile(o.journal.Path())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 1 {
		t.Fatalf("journal lines = %d:\n%s", len(lines), raw)
	}
	var e store.DegradedActivation
	if err := json.Unmarshal([]byte(lines[0]), &e); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, task := range e.Tasks {
		got = append(got, task.Assignee)
	}
	if !slices.Equal(got, assignees) || e.Plan != plan.ID || e.By != "farid" || !strings.Contains(r.Text, e.ID) {
		t.Fatalf("journal entry %+v; assignees %v, want %v", e, got, assignees)
	}

	// Redis returns: the background loop replays the journal.
	o.redis.Restart()
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- o.journal.Run(rctx) }()
	waitUntil(ctx, t, "journal replay", func() bool {
		p, err := o.journal.Pending()
		return err == nil && len(p) == 0
	})
	stop()
	<-done

	act, err := o.st.LatestActivation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if act.Plan != plan.ID || act.Site != "harbour" || act.TriggeredBy != "farid" || !act.Created.Equal(o.now) || len(act.Tasks) != len(plan.Tasks) {
		t.Fatalf("replayed activation = %+v", act)
	}
	tasks, err := o.st.Tasks(ctx, act.Tasks)
	if err != nil {
		t.Fatal(err)
	}
	for i, task := range tasks {
		if task.Status != store.TaskOpen || task.Assignee != assignees[i] || task.Title != plan.Tasks[i].Title {
			t.Errorf("task %d = %+v", i, task)
		}
	}
	tl, err := o.st.ActivationTimeline(ctx, act.Num)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(tl, func(x store.TimelineEntry) bool {
		return x.Kind == "degraded" && strings.Contains(x.Text, "created in degraded mode") && strings.Contains(x.Text, e.ID)
	}) {
		t.Errorf("activation timeline %+v: no degraded-mode entry", tl)
	}
	if v := storetest.SealAndVerify(t, o.st); !v.OK() {
		t.Fatalf("audit verify: %v", v.Problem)
	}
	before := recordsSnapshot(ctx, t, o.st)

	// Again from this process: nothing left.
	if res, err := o.journal.Replay(ctx); err != nil || res.Recorded+res.Already != 0 {
		t.Fatalf("second replay = %+v, %v", res, err)
	}
	// A second replica, its own client and a copy of the same journal.
	st2, err := store.Open(ctx, store.Options{URL: o.redis.URL(), Namespace: o.st.Namespace()})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	path2 := filepath.Join(t.TempDir(), "replica2.journal")
	if err := os.WriteFile(path2, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	j2, err := journal.Open(journal.Options{Path: path2, Records: st2})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := j2.Replay(ctx); err != nil || res.Recorded != 0 || res.Already != 1 || res.Activations[0] != act.ID() {
		t.Fatalf("second replica's replay = %+v, %v", res, err)
	}
	if after := recordsSnapshot(ctx, t, o.st); after != before {
		t.Fatalf("records changed by the repeated replays: %+v, before %+v", after, before)
	}
	if v := storetest.SealAndVerify(t, o.st); !v.OK() {
		t.Fatalf("audit verify after the repeats: %v", v.Problem)
	}
}

type snapshot struct {
	activations, tasks, auditSeq int64
	auditHash                    string
}

func recordsSnapshot(ctx context.Context, t *testing.T, st *store.Store) snapshot {
	t.Helper()
	acts, err := st.Client().ZCard(ctx, st.Key("activations")).Result()
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := st.Client().Get(ctx, st.Key("seq", "task")).Int64()
	if err != nil {
		t.Fatal(err)
	}
	storetest.Seal(t, st)
	h, err := st.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return snapshot{acts, tasks, h.Seq, h.Hash}
}

// TestCommandsAnswerWhileRedisIsDown: with Redis killed (connections
// refused) or frozen (connections hang, as with a dead host), every
// command answers within 3 s. Killed is an outage at once: "records are
// unavailable", and a live trigger goes out in degraded mode. Frozen looks
// like a Redis too slow to answer until several health probes in a row
// went unanswered: until then commands say muster is overloaded and
// nothing goes out directly; after that a trigger is degraded too.
func TestCommandsAnswerWhileRedisIsDown(t *testing.T) {
	for _, mode := range []string{"killed", "frozen"} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			o := newOutage(t)
			go func() { _ = o.st.Health().Run(ctx) }()
			plain := commands.New(commands.Options{Config: o.cfg, Store: o.st, Now: func() time.Time { return o.now }})
			// A connection in the pool, as in a process that has been
			// serving: a frozen server then hangs reads, not dials.
			if r := timed(t, plain, "farid", "/incident list"); r.Error {
				t.Fatalf("before the outage: %q", r.Text)
			}
			if mode == "killed" {
				o.redis.Kill()
			} else {
				o.redis.Pause()
				defer o.redis.Resume()
			}
			outage := mode == "killed"
			rows := []struct {
				name, as, text string
				svc            *commands.Service
				degraded       bool
			}{
				{"incident raise", "amara", "/incident raise intrusion sev2 @harbour Fence cut near gate B", plain, false},
				{"incident list", "farid", "/incident list", plain, false},
				{"roster", "amara", "/roster @harbour", plain, false},
				{"ack", "amara", "/ack", plain, false},
				{"plan status", "farid", "/plan status", plain, false},
				{"plan trigger, degraded mode off", "farid", "/plan trigger intruder-lockdown @harbour", plain, false},
				{"drill start, never degraded", "jonah", "/drill start fire-evacuation @harbour", o.svc, false},
				{"plan trigger, degraded mode on", "farid", "/plan trigger intruder-lockdown @harbour", o.svc, outage},
			}
			// All at once, as during a real outage (and so a frozen
			// server costs the test one budget, not one per row).
			type answer struct {
				r    commands.Reply
				took time.Duration
			}
			answers := make([]answer, len(rows))
			var wg sync.WaitGroup
			for i, tc := range rows {
				wg.Add(1)
				go func() {
					defer wg.Done()
					start := time.Now()
					r := tc.svc.Handle(context.Background(), commands.Request{Platform: commands.PlatformConsole, UserID: tc.as, Text: tc.text})
					answers[i] = answer{r, time.Since(start)}
				}()
			}
			wg.Wait()
			for i, tc := range rows {
				t.Run(tc.name, func(t *testing.T) {
					r, took := answers[i].r, answers[i].took
					if took > replyBudget {
						t.Errorf("answered after %v, want within %v", took.Round(time.Millisecond), replyBudget)
					}
					want := "Records are unavailable"
					if !outage {
						want = "muster is overloaded"
					}
					if !strings.HasPrefix(r.Text, want) {
						t.Errorf("reply %q: want the %q line", r.Text, want)
					}
					if tc.degraded != strings.Contains(r.Text, "DEGRADED MODE") || tc.degraded == r.Error || !outage != r.Busy {
						t.Errorf("reply %+v: degraded = %v, busy = %v", r, tc.degraded, !outage)
					}
				})
			}
			if outage {
				return
			}
			// The probes go unanswered DownAfter times in a row: an outage.
			waitUntil(ctx, t, "the health probes to find Redis down", o.st.Health().Down)
			r := timed(t, o.svc, "farid", "/plan trigger intruder-lockdown @harbour")
			if !strings.HasPrefix(r.Text, "Records are unavailable") || !strings.Contains(r.Text, "DEGRADED MODE") {
				t.Fatalf("trigger once Redis is found down: %+v", r)
			}
		})
	}
}

// With wait_replicas and a replica that does not confirm in time, a raise
// and a trigger are saved: the answer names them and says they are not
// yet confirmed by a replica, never that nothing was changed.
func TestNotReplicatedIsSavedAndSaysSo(t *testing.T) {
	r := redistest.StartSingle(t) // no replica: WAIT never reaches one
	cfg, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := store.Open(ctx, store.Options{URL: r.URL() + "?wait_replicas=1", Namespace: storetest.Namespace(),
		Now: func() time.Time { return saturday0800 }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := commands.New(commands.Options{Config: cfg, Store: st, Now: func() time.Time { return saturday0800 }})
	raise := timed(t, svc, "amara", "/incident raise intrusion sev2 @harbour Fence cut near gate B")
	if !strings.HasPrefix(raise.Text, "INC-1 raised") || !strings.Contains(raise.Text, "INC-1 was saved but not yet confirmed by a replica") ||
		strings.Contains(raise.Text, "nothing was changed") {
		t.Fatalf("raise answered %+v", raise)
	}
	trigger := timed(t, svc, "farid", "/plan trigger intruder-lockdown @harbour")
	if !strings.HasPrefix(trigger.Text, "A-1 triggered") || !strings.Contains(trigger.Text, "A-1 was saved but not yet confirmed by a replica") {
		t.Fatalf("trigger answered %+v", trigger)
	}
	if inc, err := st.Incident(ctx, 1); err != nil || inc.Text != "Fence cut near gate B" {
		t.Fatalf("INC-1 = %+v, %v", inc, err)
	}
}
