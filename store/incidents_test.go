package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/store"
)

func TestIncidentLifecycle(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	s := storetest.Open(t, func() time.Time { return clock })

	inc, err := s.RaiseIncident(ctx, store.NewIncident{Site: "harbour", Category: "intrusion", Severity: "sev2", Reporter: "amara", Text: "Fence cut near gate B — «ünïcode»"})
	if err != nil {
		t.Fatal(err)
	}
	if inc.ID() != "INC-1" {
		t.Fatalf("first id = %s, want INC-1", inc.ID())
	}
	clock = clock.Add(time.Minute)
	if _, err := s.ChangeIncident(ctx, inc.Num, "ben", store.ActionUpdate, "Police called"); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(time.Minute)
	got, err := s.ChangeIncident(ctx, inc.Num, "farid", store.ActionResolve, "Fence repaired")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.StatusResolved || got.ResolvedBy != "farid" || !got.ResolvedAt.Equal(clock) || got.Summary != "Fence repaired" {
		t.Fatalf("after resolve: %+v", got)
	}
	if got.Text != "Fence cut near gate B — «ünïcode»" {
		t.Fatalf("text not kept: %q", got.Text)
	}
	_, err = s.ChangeIncident(ctx, inc.Num, "farid", store.ActionResolve, "again")
	var se *store.StateError
	if !errors.As(err, &se) || se.Status != store.StatusResolved || !errors.Is(err, store.ErrWrongState) {
		t.Fatalf("second resolve: err = %v, want a StateError(resolved)", err)
	}
	if _, err := s.ChangeIncident(ctx, 99, "farid", store.ActionUpdate, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of missing incident: err = %v, want ErrNotFound", err)
	}
	tl, err := s.IncidentTimeline(ctx, inc.Num)
	if err != nil {
		t.Fatal(err)
	}
	kinds := []string{}
	for _, e := range tl {
		kinds = append(kinds, e.Kind+":"+e.Actor)
	}
	want := []string{"raised:amara", "update:ben", "resolve:farid"}
	if len(kinds) != len(want) {
		t.Fatalf("timeline = %v, want %v (a refused change must add nothing)", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("timeline = %v, want %v", kinds, want)
		}
	}
	open, err := s.ListIncidents(ctx, store.IncidentFilter{OpenOnly: true})
	if err != nil || len(open) != 0 {
		t.Fatalf("open incidents after resolve: %v %v", open, err)
	}
}

func TestConcurrentRaisesGetDistinctIDs(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t, nil)
	const n = 200
	var wg sync.WaitGroup
	ids := make(chan int64, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inc, err := s.RaiseIncident(ctx, store.NewIncident{Site: "depot", Category: "theft", Severity: "sev4", Reporter: "dev", Text: "x"})
			if err != nil {
				t.Error(err)
				return
			}
			ids <- inc.Num
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[int64]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("id %d given twice", id)
		}
		seen[id] = true
	}
	list, err := s.ListIncidents(ctx, store.IncidentFilter{Limit: n})
	if err != nil || len(list) != n {
		t.Fatalf("list: %d incidents, err %v; want %d", len(list), err, n)
	}
	if list[0].Num != n {
		t.Fatalf("list not newest first: first is %d", list[0].Num)
	}
}

func TestListFiltersBySite(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t, nil)
	for _, site := range []string{"harbour", "depot", "harbour"} {
		if _, err := s.RaiseIncident(ctx, store.NewIncident{Site: site, Category: "other", Severity: "sev4", Reporter: "amara", Text: site}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ListIncidents(ctx, store.IncidentFilter{Site: "harbour"})
	if err != nil || len(got) != 2 || got[0].Num != 3 || got[1].Num != 1 {
		t.Fatalf("harbour incidents = %+v, %v", got, err)
	}
}

func TestParseID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{{"INC-42", 42, true}, {"inc-7", 7, true}, {"12", 12, true}, {"INC-", 0, false}, {"INC-0", 0, false}, {"T-3", 0, false}, {"INC-x", 0, false}} {
		got, err := store.ParseID("INC", tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseID(%q) = %d, %v", tc.in, got, err)
		}
	}
}
