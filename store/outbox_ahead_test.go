package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/store"
)

// A paced lane's take reserves the slots up to its horizon (Pace.Ahead):
// at 1,000 a second with 5 ms ahead, one take gets six messages, the
// first to go now and each next one a millisecond later; the next take
// gets nothing until a slot comes within the horizon again, and then the
// next slot, not an earlier one. Without a horizon a take gets one.
func TestTakeReservesSlotsAhead(t *testing.T) {
	ctx := context.Background()
	t0 := time.UnixMilli(1_800_000_000_000)
	s := storetest.Open(t, func() time.Time { return t0 })
	read := queueSMS(t, s, smsTo("ahead", 10))
	const lane = "sms:+447700900999"
	routes := make([]store.Route, len(read))
	for i, e := range read {
		routes[i] = store.Route{ID: e.ID, Lane: lane}
	}
	if _, err := s.RouteOutbox(ctx, routes); err != nil {
		t.Fatal(err)
	}
	take := func(now time.Time, ahead time.Duration) *store.Taken {
		t.Helper()
		tk, err := s.TakeOutbox(ctx, store.Take{Lane: lane, Limit: 100, Now: now, Lease: 30 * time.Second, Token: "a",
			Pace: store.Pace{Rate: 1000, Burst: 1, Ahead: ahead}})
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}

	first := take(t0, 5*time.Millisecond)
	if len(first.Entries) != 6 {
		t.Fatalf("took %d, want 6 (now and the 5 slots up to 5 ms ahead)", len(first.Entries))
	}
	for i, e := range first.Entries {
		want := time.Time{}
		if i > 0 {
			want = t0.Add(time.Duration(i) * time.Millisecond)
		}
		if !e.NotBefore.Equal(want) {
			t.Errorf("message %d: not before %v, want %v", i, e.NotBefore, want)
		}
	}
	if again := take(t0, 5*time.Millisecond); len(again.Entries) != 0 || again.Wait != time.Millisecond {
		t.Errorf("a second take at once: %d taken, wait %s; want none, wait 1ms", len(again.Entries), again.Wait)
	}
	next := take(t0.Add(time.Millisecond), 5*time.Millisecond)
	if len(next.Entries) != 1 || !next.Entries[0].NotBefore.Equal(t0.Add(6*time.Millisecond)) {
		t.Errorf("a millisecond later: %+v; want one, not before 6 ms", next.Entries)
	}
	// Without a horizon: one when its slot has come, none before.
	if none := take(t0.Add(3*time.Millisecond), 0); len(none.Entries) != 0 {
		t.Errorf("without a horizon, before the next slot: %d taken", len(none.Entries))
	}
	if one := take(t0.Add(7*time.Millisecond), 0); len(one.Entries) != 1 || !one.Entries[0].NotBefore.IsZero() {
		t.Errorf("without a horizon, at the next slot: %+v; want one, to go now", one.Entries)
	}
}

// A paced message whose lane is empty skips it while the sender has a
// slot within the horizon: it is routed direct with its slot, and the
// lane's pace moves on; once the slots run out the rest wait in the lane,
// and a take from it gets the slots after the direct ones. A message
// about a closed task is dropped on the way.
func TestRouteSendsStraightWhileTheSenderKeepsUp(t *testing.T) {
	ctx := context.Background()
	t0 := time.UnixMilli(1_800_000_000_000)
	s := storetest.Open(t, func() time.Time { return t0 })
	msgs := smsTo("straight", 6)
	msgs[1].Task = "999999" // no such task: dropped
	read := queueSMS(t, s, msgs)
	const lane = "sms:+447700900999"
	pace := store.Pace{Rate: 1000, Burst: 1, Ahead: 2 * time.Millisecond}
	routes := make([]store.Route, len(read))
	for i, e := range read {
		routes[i] = store.Route{ID: e.ID, Lane: lane, Pace: pace, Task: e.Msg.Task}
	}
	res, err := s.RouteOutbox(ctx, routes)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res {
		got = append(got, r.Result)
	}
	want := []string{store.RouteDirect, store.RouteDropped, store.RouteDirect, store.RouteDirect, store.RouteOK, store.RouteOK}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("routed %v, want %v (three slots within 2 ms, then the lane)", got, want)
	}
	for i, at := range []time.Duration{-1, 0, time.Millisecond, 2 * time.Millisecond} {
		if i == 1 {
			continue
		}
		if r := res[i]; (at < 0 && !r.NotBefore.IsZero()) || (at >= 0 && i > 0 && !r.NotBefore.Equal(t0.Add(at))) {
			t.Errorf("message %d: not before %v", i, r.NotBefore)
		}
	}
	if n, err := s.LaneLen(ctx, lane); err != nil || n != 2 {
		t.Errorf("lane holds %d (%v), want the 2 beyond the slots", n, err)
	}
	tk, err := s.TakeOutbox(ctx, store.Take{Lane: lane, Limit: 10, Now: t0.Add(2 * time.Millisecond), Lease: 30 * time.Second, Token: "a", Pace: pace})
	if err != nil {
		t.Fatal(err)
	}
	if len(tk.Entries) != 2 || !tk.Entries[0].NotBefore.Equal(t0.Add(3*time.Millisecond)) || !tk.Entries[1].NotBefore.Equal(t0.Add(4*time.Millisecond)) {
		t.Errorf("take after the direct ones: %+v; want two, at 3 and 4 ms", tk.Entries)
	}
}

// smsTo is n test SMS to Amara, keyed prefix:0, prefix:1...
func smsTo(prefix string, n int) []store.OutMessage {
	msgs := make([]store.OutMessage, n)
	for i := range msgs {
		msgs[i] = store.OutMessage{Key: fmt.Sprintf("%s:%d", prefix, i), Channel: "sms", To: "amara", Kind: "test", Text: fmt.Sprint(i)}
	}
	return msgs
}

// queueSMS puts msgs on the outbox and reads them back as a deliverer
// would, ready to route.
func queueSMS(t *testing.T, s *store.Store, msgs []store.OutMessage) []store.OutboxEntry {
	t.Helper()
	ctx := context.Background()
	if err := s.EnsureOutbox(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enqueue(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	read, err := s.ReadOutbox(ctx, "test", 100, -1)
	if err != nil {
		t.Fatal(err)
	}
	return read
}

// Messages sent straight from the stream may finish in any order: the
// stream is trimmed of every entry done, also when the last to finish is
// older than one finished earlier. (An entry finished out of order was
// left behind, counted as waiting, its age growing for ever.)
func TestFinishTrimsEntriesDoneOutOfOrder(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t, time.Now)
	read := queueSMS(t, s, smsTo("order", 3))
	for _, i := range []int{1, 2, 0} {
		e := read[i]
		e.Direct, e.Lane, e.Attempts = true, "sms:+447700900999", 1
		if err := s.FinishOutbox(ctx, e, ""); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Client().XLen(ctx, s.Key("outbox")).Result(); err != nil || n != 0 {
		t.Errorf("the outbox stream holds %d entries (%v) after all were sent, want none", n, err)
	}
	if b, err := s.Backlog(ctx); err != nil || b.OutboxPending != 0 {
		t.Errorf("backlog %+v (%v), want no message waiting", b, err)
	}
}

// Sends recorded in one batch share one messages.sent event, and every
// task's timeline still shows its own message sent, once; the chain
// verifies.
func TestSendsRecordedTogetherShareOneEvent(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t, time.Now)
	const n = 50
	msgs := make([]store.OutMessage, n)
	for i := range msgs {
		msgs[i] = store.OutMessage{Key: fmt.Sprintf("T-%d:0:sms", i+1), Channel: "sms", To: "amara", Kind: "task",
			Ref: fmt.Sprintf("T-%d", i+1), Task: strconv.Itoa(i + 1), Text: fmt.Sprint(i)}
	}
	read := queueSMS(t, s, msgs)
	if len(read) != n {
		t.Fatalf("read %d of %d", len(read), n)
	}
	errs := make(chan error, n)
	for _, e := range read {
		e.Direct, e.Lane, e.Attempts = true, "sms:+447700900999", 1
		go func() { errs <- s.FinishOutbox(ctx, e, "") }()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	events, err := s.Client().XRange(ctx, s.Key("audit"), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	batches := 0
	for _, m := range events {
		if m.Values["kind"] == store.KindMessagesSent {
			batches++
		}
	}
	if batches == 0 || len(events) >= n {
		t.Fatalf("%d events for %d sends recorded at once (%d shared), want fewer events than sends", len(events), n, batches)
	}
	h, err := s.History(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		var sent []string
		for _, e := range store.RecordTimeline(store.FormatID("T", int64(i)), h) {
			if e.Kind == "sent" {
				sent = append(sent, e.Text)
			}
		}
		if len(sent) != 1 || sent[0] != "sms to amara" {
			t.Errorf("T-%d's timeline shows sends %q, want one \"sms to amara\"", i, sent)
		}
	}
	if v := storetest.SealAndVerify(t, s); !v.OK() {
		t.Errorf("audit verify: %+v", v)
	}
}

// A messages.sent whose data is not a list of messages stands for
// itself, as stored.
func TestUnreadableMessagesSentStandsForItself(t *testing.T) {
	e := store.AuditEvent{ID: "1-0", Kind: store.KindMessagesSent, Data: `{"subject":"T-1"}`}
	if got := e.Messages(); len(got) != 1 || got[0].Kind != store.KindMessagesSent || got[0].Data != e.Data {
		t.Errorf("Messages() = %+v", got)
	}
	e.Data = `[{"subject":"T-1","data":{"task":"1"}},{"subject":"INC-2","data":{}}]`
	got := e.Messages()
	if len(got) != 2 || got[0].Subject != "T-1" || got[0].Data != `{"task":"1"}` || got[1].Subject != "INC-2" || got[1].Kind != store.KindMessageSent || got[1].ID != "1-0" {
		t.Errorf("Messages() = %+v", got)
	}
}

// An escalation step's entry (its message as one JSON field) is read
// whole by a deliverer and, routed into a lane, is stored there whole:
// taken from the lane it is the message the step queued.
func TestStepEntryKeepsItsMessageThroughALane(t *testing.T) {
	ctx := context.Background()
	t0 := time.UnixMilli(1_800_000_000_000)
	s := storetest.Open(t, func() time.Time { return t0 })
	if err := s.EnsureOutbox(ctx); err != nil {
		t.Fatal(err)
	}
	_, tasks, err := s.TriggerPlan(ctx, store.NewActivation{Plan: "p", PlanName: "P", Site: "harbour", By: "jonah",
		Tasks: []store.NewTask{{Title: "Sweep", Role: "guard", Policy: "standard", Assignee: "amara"}}})
	if err != nil {
		t.Fatal(err)
	}
	n := tasks[0].Num
	want := store.OutMessage{Key: store.FormatID("T", n) + ":1:sms", Channel: "sms", To: "amara", Site: "harbour", Kind: "task",
		Ref: store.FormatID("T", n), Text: "Sweep the fence <now> & \"report\"", Task: strconv.FormatInt(n, 10), Drill: "1"}
	b, _ := json.Marshal(want)
	id, err := s.Client().XAdd(ctx, &redis.XAddArgs{Stream: s.Key("outbox"), Values: []any{"m", string(b), "queued", t0.UnixMilli()}}).Result()
	if err != nil {
		t.Fatal(err)
	}
	read, err := s.ReadOutbox(ctx, "test", 10, -1)
	// Only the entry added here (not what the trigger itself queued).
	read = slices.DeleteFunc(read, func(e store.OutboxEntry) bool { return e.ID != id })
	if err != nil || len(read) != 1 || read[0].Msg != want || !read[0].Queued.Equal(t0) {
		t.Fatalf("read %+v, %v; want %+v queued %s", read, err, want, t0)
	}
	const lane = "sms:+447700900999"
	if _, err := s.RouteOutbox(ctx, []store.Route{{ID: read[0].ID, Lane: lane}}); err != nil {
		t.Fatal(err)
	}
	tk, err := s.TakeOutbox(ctx, store.Take{Lane: lane, Limit: 10, Now: t0, Lease: 30 * time.Second, Token: "a",
		Pace: store.Pace{Rate: 1000, Burst: 1}})
	if err != nil || len(tk.Entries) != 1 || tk.Entries[0].Msg != want {
		t.Fatalf("taken %+v, %v; want %+v", tk, err, want)
	}
}
