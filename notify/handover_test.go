package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/configs"
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
