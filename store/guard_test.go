package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/store"
)

// guarded is the view of s for a request whose replay guard is name.
func guarded(s *store.Store, name string) (*store.Store, *store.ReplayGuard) {
	g := store.NewReplayGuard(name, time.Minute)
	return s.Guarded(g), g
}

func incidentCount(t *testing.T, s *store.Store) int {
	t.Helper()
	list, err := s.ListIncidents(context.Background(), store.IncidentFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

// A guard rides on the first script of its command: one round trip, and
// a second request with the same key changes nothing and says so.
func TestReplayGuardRidesOnTheFirstScript(t *testing.T) {
	s := storetest.Open(t, nil)
	in := store.NewIncident{Site: "harbour", Category: "fire", Severity: "sev2", Reporter: "farid", Text: "smoke"}
	if _, err := s.RaiseIncident(context.Background(), in); err != nil { // scripts loaded
		t.Fatal(err)
	}
	rt := storetest.CountRoundTrips(s)

	ctx := context.Background()
	v, g := guarded(s, "test:seen:a")
	if _, err := v.RaiseIncident(ctx, in); err != nil {
		t.Fatal(err)
	}
	if n := rt.Load(); n != 1 {
		t.Errorf("guarded raise: %d round trips, want 1", n)
	}
	if !g.Settled() || g.Replayed() || g.Err() != nil {
		t.Errorf("guard after a first request: settled %v replayed %v err %v; want settled, not replayed", g.Settled(), g.Replayed(), g.Err())
	}
	// Later calls of the same view pass: the guard is spent.
	if _, err := v.Incident(ctx, 1); err != nil {
		t.Fatalf("read after the guard: %v", err)
	}

	v2, g2 := guarded(s, "test:seen:a")
	_, err := v2.RaiseIncident(ctx, in)
	if !errors.Is(err, store.ErrReplayed) || errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("replayed raise: err = %v, want ErrReplayed (not unavailable)", err)
	}
	if !g2.Replayed() {
		t.Error("guard of the replay does not say so")
	}
	// Nothing the replayed request's view asks afterwards reaches Redis.
	before := rt.Load()
	if _, err := v2.RaiseIncident(ctx, in); !errors.Is(err, store.ErrReplayed) {
		t.Errorf("second call of the replayed view: %v, want ErrReplayed", err)
	}
	if _, err := v2.Incident(ctx, 1); !errors.Is(err, store.ErrReplayed) {
		t.Errorf("read of the replayed view: %v, want ErrReplayed", err)
	}
	if err := v2.AddCard(ctx, "slack", "INC-1", "C1/9"); !errors.Is(err, store.ErrReplayed) {
		t.Errorf("direct write of the replayed view: %v, want ErrReplayed", err)
	}
	if n := rt.Load() - before; n != 0 {
		t.Errorf("calls of a replayed view made %d round trips, want 0", n)
	}
	if n := incidentCount(t, s); n != 2 {
		t.Errorf("%d incidents, want 2 (the replay raised none)", n)
	}
}

// A guard rides at the head of a read pipeline; a replay discards the
// reads.
func TestReplayGuardRidesOnTheFirstRead(t *testing.T) {
	s := storetest.Open(t, nil)
	inc, err := s.RaiseIncident(context.Background(), store.NewIncident{Site: "harbour", Category: "fire", Severity: "sev2", Reporter: "farid", Text: "smoke"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.IncidentWithTimeline(context.Background(), inc.Num); err != nil { // connections open
		t.Fatal(err)
	}
	rt := storetest.CountRoundTrips(s)
	ctx := context.Background()
	v, g := guarded(s, "test:seen:b")
	got, tl, err := v.IncidentWithTimeline(ctx, inc.Num)
	if err != nil || got.Num != inc.Num || len(tl) != 1 {
		t.Fatalf("guarded read: %+v %v %v", got, tl, err)
	}
	if n := rt.Load(); n != 1 || !g.Settled() || g.Replayed() {
		t.Errorf("guarded read: %d round trips, settled %v, replayed %v; want 1, true, false", n, g.Settled(), g.Replayed())
	}
	v2, _ := guarded(s, "test:seen:b")
	if _, _, err := v2.IncidentWithTimeline(ctx, inc.Num); !errors.Is(err, store.ErrReplayed) {
		t.Fatalf("replayed read: %v, want ErrReplayed", err)
	}
	// A missing record is still its own answer, and the guard is spent.
	v3, g3 := guarded(s, "test:seen:c")
	if _, err := v3.Incident(ctx, 999); !errors.Is(err, store.ErrNotFound) || !g3.Settled() {
		t.Fatalf("guarded read of nothing: %v (settled %v), want ErrNotFound and a settled guard", err, g3.Settled())
	}
}

// A command that touched no records leaves its guard for the adapter;
// CheckReplay settles it with one SET NX and remembers the answer.
func TestCheckReplaySettlesAnUnusedGuard(t *testing.T) {
	s := storetest.Open(t, nil)
	rt := storetest.CountRoundTrips(s)
	_, g := guarded(s, "test:seen:d")
	if dup, err := s.CheckReplay(context.Background(), g); dup || err != nil {
		t.Fatalf("first: replay %v err %v", dup, err)
	}
	if dup, err := s.CheckReplay(context.Background(), g); dup || err != nil {
		t.Fatalf("asked again: replay %v err %v", dup, err)
	}
	if n := rt.Load(); n != 1 {
		t.Errorf("%d round trips, want 1 (the answer is remembered)", n)
	}
	_, g2 := guarded(s, "test:seen:d")
	if dup, err := s.CheckReplay(context.Background(), g2); !dup || err != nil {
		t.Fatalf("copy: replay %v err %v, want a replay", dup, err)
	}
	if ttl := s.Client().PTTL(context.Background(), s.Key("test:seen:d")).Val(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("the guard key lives %v, want up to a minute", ttl)
	}
}

// A round trip of a guarded view that does not go through the store's
// script and read helpers (a method that talks to Redis directly, one
// command or a MULTI) still settles the guard first, and is refused on a
// replay: no path skips the check.
func TestReplayGuardCannotBeSkipped(t *testing.T) {
	s := storetest.Open(t, nil)
	ctx := context.Background()
	v, g := guarded(s, "test:seen:e")
	if err := v.AddCard(ctx, "slack", "INC-1", "C1/1"); err != nil {
		t.Fatal(err)
	}
	if !g.Settled() || g.Replayed() {
		t.Fatalf("direct call: guard settled %v replayed %v", g.Settled(), g.Replayed())
	}
	v2, _ := guarded(s, "test:seen:e")
	if _, err := v2.Cards(ctx, "slack", "INC-1"); !errors.Is(err, store.ErrReplayed) {
		t.Fatalf("direct read with a replayed guard: %v, want ErrReplayed", err)
	}
	if err := v2.AddCard(ctx, "slack", "INC-1", "C1/2"); !errors.Is(err, store.ErrReplayed) {
		t.Fatalf("MULTI with a replayed guard: %v, want ErrReplayed", err)
	}
	if got, err := s.Cards(ctx, "slack", "INC-1"); err != nil || len(got) != 1 || got[0] != "C1/1" {
		t.Errorf("cards = %v %v, want [C1/1] (the replays wrote nothing)", got, err)
	}
}

// Two requests racing with one key: exactly one gets through.
func TestReplayGuardRace(t *testing.T) {
	s := storetest.Open(t, nil)
	in := store.NewIncident{Site: "harbour", Category: "fire", Severity: "sev2", Reporter: "farid", Text: "smoke"}
	errs := make(chan error, 6)
	for range 6 {
		go func() {
			v, _ := guarded(s, "test:seen:f")
			_, err := v.RaiseIncident(context.Background(), in)
			errs <- err
		}()
	}
	ok, dup := 0, 0
	for range 6 {
		switch err := <-errs; {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrReplayed):
			dup++
		default:
			t.Fatal(err)
		}
	}
	if ok != 1 || dup != 5 || incidentCount(t, s) != 1 {
		t.Fatalf("%d through, %d refused, %d incidents; want 1, 5, 1", ok, dup, incidentCount(t, s))
	}
}

// When Redis does not answer in time but is not known to be unreachable
// (overload), the guard is settled as unknown: its error stays, and every
// later round trip of the command is refused, so nothing of the request
// runs unchecked; the adapter answers busy.
func TestReplayGuardUnansweredRunsNothingMore(t *testing.T) {
	s := storetest.Open(t, nil)
	v, g := guarded(s, "test:seen:g")
	dead, cancel := context.WithCancel(context.Background())
	cancel() // every round trip on this context fails
	_, err := v.RaiseIncident(dead, store.NewIncident{Site: "harbour", Category: "fire", Reporter: "farid", Text: "x"})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("raise on a dead context: %v, want ErrUnavailable", err)
	}
	if !g.Settled() || g.Replayed() || g.Err() == nil {
		t.Fatalf("guard: settled %v replayed %v err %v; want settled, not a replay, with the error", g.Settled(), g.Replayed(), g.Err())
	}
	// The same command goes on with a live context: refused.
	if _, err := v.RaiseIncident(context.Background(), store.NewIncident{Site: "harbour", Category: "fire", Reporter: "farid", Text: "x"}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("a later round trip of the unchecked request: %v, want ErrUnavailable", err)
	}
	if n := incidentCount(t, s); n != 0 {
		t.Fatalf("%d incidents, want 0", n)
	}
}
