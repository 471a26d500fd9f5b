package sms

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/clock"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/internal/testtime"
	"github.com/muster-ops/muster/store"
)

// emptyTwiML is the answer to a copy of a message already handled.
const emptyTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response/>`

// Twilio retries a webhook it got no 2xx for, with the same MessageSid:
// the copy, on this replica or another, even at the same moment, acts
// once. The second answer is 200 with an empty TwiML (no second reply),
// and the task's timeline holds one acknowledgement. Another MessageSid
// is a new message.
func TestInboundSMSDedupedByMessageSid(t *testing.T) {
	const public = "https://muster.example.com"
	cfg, st, svc, picked := twoPhoneTasks(t)
	ctx := context.Background()
	// Two replicas: two handlers on one Redis.
	var hs []*Handlers
	for range 2 {
		h, err := New(Options{Config: cfg, Commands: svc, Store: st, AuthToken: exampleToken, PublicURL: public})
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	send := func(h *Handlers, tk *store.Task, sid string) string {
		p, _ := cfg.Person(tk.Assignee)
		form := url.Values{"From": {p.Phone}, "To": {"+447700900999"}, "Body": {"ACK " + tk.ID()}, "MessageSid": {sid},
			"AccountSid": {"AC00000000000000000000000000000000"}}
		w := post(h.SMS(), "/twilio/sms", form, exampleToken, public+"/twilio/sms")
		if w.Code != 200 {
			t.Fatalf("%s: HTTP %d %s", sid, w.Code, w.Body)
		}
		return w.Body.String()
	}
	acks := func(tk *store.Task) int {
		tl, err := st.TaskTimeline(ctx, tk.Num)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range tl {
			if e.Kind == "ack" || e.Kind == "acknowledged" {
				n++
			}
		}
		return n
	}

	// One after the other, the copy at the other replica.
	first := send(hs[0], picked[0], "SM00000000000000000000000000000001")
	if first == emptyTwiML || !strings.Contains(first, "<Message>") {
		t.Fatalf("first copy answered %s, want the reply", first)
	}
	if again := send(hs[1], picked[0], "SM00000000000000000000000000000001"); again != emptyTwiML {
		t.Fatalf("second copy answered %s, want %s", again, emptyTwiML)
	}
	if n := acks(picked[0]); n != 1 {
		t.Errorf("%s: %d acknowledgements in the timeline, want 1", picked[0].ID(), n)
	}

	// At the same moment, at both replicas: exactly one acts.
	var wg sync.WaitGroup
	answers := make([]string, 2)
	for i, h := range hs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = send(h, picked[1], "SM00000000000000000000000000000002")
		}()
	}
	wg.Wait()
	if (answers[0] == emptyTwiML) == (answers[1] == emptyTwiML) {
		t.Fatalf("concurrent copies answered %q and %q, want one reply and one empty", answers[0], answers[1])
	}
	if n := acks(picked[1]); n != 1 {
		t.Errorf("%s: %d acknowledgements in the timeline, want 1", picked[1].ID(), n)
	}

	// A new MessageSid is a new message: answered (the task is already
	// acknowledged, and the reply says so).
	if fresh := send(hs[0], picked[0], "SM00000000000000000000000000000003"); fresh == emptyTwiML {
		t.Fatalf("a new MessageSid got the empty answer")
	}
}

// An SMS ACK is one Redis round trip: the ack's own script checks that
// the task is the sender's and carries the MessageSid's SET NX. Nothing
// runs between remembering the sid and acknowledging, so a process that
// dies mid-request leaves either both (Twilio's retry is a copy, and the
// task is acknowledged) or neither (the retry acts). A supervisor's ACK
// of someone else's task by SMS is refused in the same single step.
func TestSMSAckIsOneRoundTrip(t *testing.T) {
	const public = "https://muster.example.com"
	cfg, st, svc, picked := twoPhoneTasks(t)
	ctx := context.Background()
	h, err := New(Options{Config: cfg, Commands: svc, Store: st, AuthToken: exampleToken, PublicURL: public})
	if err != nil {
		t.Fatal(err)
	}
	send := func(from, body, sid string) string {
		form := url.Values{"From": {from}, "To": {"+447700900999"}, "Body": {body}, "MessageSid": {sid},
			"AccountSid": {"AC00000000000000000000000000000000"}}
		w := post(h.SMS(), "/twilio/sms", form, exampleToken, public+"/twilio/sms")
		if w.Code != 200 {
			t.Fatalf("%s: HTTP %d %s", sid, w.Code, w.Body)
		}
		return w.Body.String()
	}
	phone := func(id string) string {
		p, _ := cfg.Person(id)
		return p.Phone
	}
	// The first ACK loads the script into Redis; measure the second.
	send(phone(picked[0].Assignee), "ACK "+picked[0].ID(), "SM00000000000000000000000000000010")

	rt := storetest.CountRoundTrips(st)

	// Someone else's task, from a supervisor's phone: refused, one trip.
	var lead *configs.Person
	for i := range cfg.People {
		p := &cfg.People[i]
		if p.Phone != "" && p.ID != picked[1].Assignee && p.HasAnyRole(configs.RoleSupervisor, configs.RoleControl, configs.RoleCoordinator) {
			lead = p
			break
		}
	}
	if lead == nil {
		t.Fatal("the example config has no supervisor with a phone")
	}
	before := rt.Load()
	refused := send(lead.Phone, "ACK "+picked[1].ID(), "SM00000000000000000000000000000011")
	if !strings.Contains(refused, "not assigned to you") || !strings.Contains(refused, "only ACK your own tasks") {
		t.Fatalf("supervisor's SMS ACK of %s's task answered %s, want a refusal", picked[1].Assignee, refused)
	}
	if n := rt.Load() - before; n != 1 {
		t.Errorf("a refused SMS ACK took %d round trips, want 1", n)
	}
	if tk, err := st.Task(ctx, picked[1].Num); err != nil || tk.Status != store.TaskOpen {
		t.Fatalf("after the refused ACK %s is %v (%v), want open", picked[1].ID(), tk.Status, err)
	}

	before = rt.Load()
	ok := send(phone(picked[1].Assignee), "ACK "+picked[1].ID(), "SM00000000000000000000000000000012")
	if !strings.Contains(ok, "acknowledged") {
		t.Fatalf("ACK answered %s", ok)
	}
	if n := rt.Load() - before; n != 1 {
		t.Errorf("an SMS ACK took %d round trips, want 1 (the sid rides on the ack's script)", n)
	}
}

// twoPhoneTasks triggers the medical plan at the harbour on a fresh store
// running at testtime.Start and returns two of its open tasks whose
// assignees have phones.
func twoPhoneTasks(t *testing.T) (*configs.Config, *store.Store, *commands.Service, []*store.Task) {
	t.Helper()
	cfg, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.Open(t, clock.NewScaled(testtime.Start, 1).Now)
	svc := commands.New(commands.Options{Config: cfg, Store: st})
	ctx := context.Background()
	if r := svc.Handle(ctx, commands.Request{Platform: commands.PlatformConsole, UserID: "jonah", Text: "/plan trigger medical-emergency @harbour"}); r.Error {
		t.Fatal(r.Text)
	}
	a, err := st.LatestActivation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := st.Tasks(ctx, a.Tasks)
	if err != nil {
		t.Fatal(err)
	}
	var picked []*store.Task
	for _, tk := range tasks {
		if p, ok := cfg.Person(tk.Assignee); ok && p.Phone != "" && tk.Status == store.TaskOpen {
			picked = append(picked, tk)
		}
	}
	if len(picked) < 2 {
		t.Fatalf("need two open tasks with a phone, have %d", len(picked))
	}
	return cfg, st, svc, picked
}
