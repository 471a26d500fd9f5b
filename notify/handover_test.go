package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/configs/roster"
	"github.com/muster-ops/muster/internal/clock"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

func TestHandoverNoticeGoesOutOnceAtShiftChange(t *testing.T) {
	ctx := context.Background()
	cfg, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	// 18:30 London time, 25 Nov 2026 (GMT): guards hand over at 19:00.
	clk := clock.NewFake(time.Date(2026, 11, 25, 18, 30, 0, 0, time.UTC))
	st := storetest.Open(t, clk.Now)
	if _, err := st.RaiseIncident(ctx, store.NewIncident{Site: "harbour", Category: "theft", Severity: "sev3", Reporter: "amara", Text: "Bike stolen"}); err != nil {
		t.Fatal(err)
	}
	h := notify.NewHandover(cfg, st, clk, nil)
	at := h.NextHandover(clk.Now())
	if want := time.Date(2026, 11, 25, 19, 0, 0, 0, time.UTC); !at.Equal(want) {
		t.Fatalf("next hand-over = %s, want %s", at, want)
	}
	// Two processes notice the same hand-over: one notice per site.
	for range 2 {
		if err := h.Post(ctx, at); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	rec := notify.NotifierFunc(func(_ context.Context, m notify.Message) (bool, error) {
		got = append(got, m.Site+": "+m.Text)
		return false, nil
	})
	if _, err := notify.NewDeliverer(st, rec, nil, "t", time.Minute).Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d notices, want one per site (2):\n%s", len(got), strings.Join(got, "\n"))
	}
	var harbour string
	for _, g := range got {
		if strings.HasPrefix(g, "harbour: ") {
			harbour = g
		}
	}
	// Shift 648 (07:00 on 25 Nov) was amara's; 649 is ben's.
	for _, want := range []string{"guard Amara Okafor → Ben Walsh", "INC-1 theft", "19:00"} {
		if !strings.Contains(harbour, want) {
			t.Errorf("harbour notice %q lacks %q", harbour, want)
		}
	}
}

// TestHandoverFlagsLongStints: on 11 Sep 2027 Chloe took Ben's first-aider
// day shift (his first aid lapsed on 31 Aug) and at 19:00 takes her own
// guard night: the notice says she will have worked 24h without a break.
func TestHandoverFlagsLongStints(t *testing.T) {
	ctx := context.Background()
	cfg, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2027, 9, 11, 17, 30, 0, 0, time.UTC)) // 18:30 BST
	st := storetest.Open(t, clk.Now)
	h := notify.NewHandover(cfg, st, clk, nil)
	at := h.NextHandover(clk.Now())
	if err := h.Post(ctx, at); err != nil {
		t.Fatal(err)
	}
	var harbour string
	rec := notify.NotifierFunc(func(_ context.Context, m notify.Message) (bool, error) {
		if m.Site == "harbour" {
			harbour = m.Text
		}
		return false, nil
	})
	if _, err := notify.NewDeliverer(st, rec, nil, "t", time.Minute).Drain(ctx); err != nil {
		t.Fatal(err)
	}
	const want = "guard Ben Walsh → Chloe Martin (Chloe Martin on duty 24h without a break from 07:00 Sat 11 Sep, past max_continuous 16h)"
	if !strings.Contains(harbour, want) {
		t.Errorf("harbour notice %q lacks %q", harbour, want)
	}
}

// At the 19:00 hand-over during an open roll call, Ben, who comes on duty,
// is added to it (asked at once by the engine, as everyone else was), and
// the notice says so; it lists the active lone workers at the site. A
// second process posting the same hand-over adds nobody twice.
func TestHandoverJoinsRollCallAndListsLoneWorkers(t *testing.T) {
	ctx := context.Background()
	cfg, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 11, 25, 18, 30, 0, 0, time.UTC))
	st := storetest.Open(t, clk.Now)
	num, _, err := st.StartRollCall(ctx, store.NewRollCall{Sites: []string{"harbour"}, By: "farid",
		People: []store.RollCallMember{{Person: "amara", Site: "harbour"}, {Person: "farid", Site: "harbour"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.StartCheckin(ctx, store.NewCheckin{Person: "farid", Site: "harbour", Note: "north fence",
		Every: 15 * time.Minute, Until: clk.Now().Add(4 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	h := notify.NewHandover(cfg, st, clk, nil)
	at := h.NextHandover(clk.Now())
	clk.Set(at)
	for range 2 {
		if err := h.Post(ctx, at); err != nil {
			t.Fatal(err)
		}
	}
	_, tk, err := st.RollCallEntry(ctx, num, "ben")
	if err != nil {
		t.Fatalf("ben, on duty from 19:00, is not in R-%d: %v", num, err)
	}
	if tk.Status != store.TaskOpen || !tk.Due.Equal(at) {
		t.Errorf("ben's question: %s due %s, want open and due at once", tk.Status, tk.Due)
	}
	rc, err := st.RollCall(ctx, num)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Total < 3 || rc.Pending() != rc.Total {
		t.Errorf("R-%d tally after the hand-over: %d asked, %d pending", num, rc.Total, rc.Pending())
	}
	var harbour []string
	rec := notify.NotifierFunc(func(_ context.Context, m notify.Message) (bool, error) {
		if m.Site == "harbour" && m.Kind == "handover" {
			harbour = append(harbour, m.Text)
		}
		return false, nil
	})
	if _, err := notify.NewDeliverer(st, rec, nil, "t", time.Minute).Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if len(harbour) != 1 {
		t.Fatalf("%d harbour notices, want 1: %q", len(harbour), harbour)
	}
	for _, want := range []string{"Added to open roll calls: ", "Ben Walsh (R-1)",
		"Lone workers: L-1 Farid Haddad every 15m, next due 18:45, until 22:30"} {
		if !strings.Contains(harbour[0], want) {
			t.Errorf("harbour notice %q lacks %q", harbour[0], want)
		}
	}
}

// A cover put in before a roll call, starting while it is open: at the
// cover's start Dev, who covers the harbour guard from 08:30, is added to
// the open roll call at Harbour Point (his question due at once), by the
// hand-over loops of two processes, once.
func TestCoverStartingDuringRollCallJoinsIt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC))
	st := storetest.Open(t, clk.Now)
	start := time.Date(2026, 11, 25, 8, 30, 0, 0, time.UTC)
	if _, err := st.AddOverride(ctx, roster.Override{Roster: "harbour-guard", Person: "dev", From: start, To: start.Add(90 * time.Minute), By: "farid"}); err != nil {
		t.Fatal(err)
	}
	num, _, err := st.StartRollCall(ctx, store.NewRollCall{Sites: []string{"harbour"}, By: "farid",
		People: []store.RollCallMember{{Person: "amara", Site: "harbour"}, {Person: "farid", Site: "harbour"}}})
	if err != nil {
		t.Fatal(err)
	}
	runs := make(chan error, 2)
	for range 2 {
		h := notify.NewHandover(cfg, st, clk, nil)
		go func() { runs <- h.Run(ctx) }()
	}
	defer func() {
		cancel()
		for range 2 {
			if err := <-runs; err != nil {
				t.Error(err)
			}
		}
	}()
	asleep := func() {
		t.Helper()
		for {
			changed := clk.Changed()
			if clk.Waiters() >= 2 {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("hand-over loops not waiting: %v", ctx.Err())
			case <-changed:
			}
		}
	}
	asleep()
	if _, _, err := st.RollCallEntry(ctx, num, "dev"); err == nil {
		t.Fatal("dev is in the roll call before his cover starts")
	}
	clk.Set(start)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var tk *store.Task
	for {
		if _, tk, err = st.RollCallEntry(ctx, num, "dev"); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("dev, on duty from 08:30 by a cover, was never added to R-%d: %v", num, err)
		case <-tick.C:
		}
	}
	if tk.Status != store.TaskOpen || !tk.Due.Equal(start) || tk.Site != "harbour" {
		t.Errorf("dev's question: %s at %s due %s, want open at harbour and due at once (%s)", tk.Status, tk.Site, tk.Due, start)
	}
	asleep() // both loops have looked at the cover and sleep again
	rc, err := st.RollCall(ctx, num)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Total != 3 {
		t.Errorf("R-%d asks %d people, want 3 (dev once)", num, rc.Total)
	}
}
