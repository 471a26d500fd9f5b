package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/store"
)

// Backlog counts what waits: deadlines, outgoing messages (unrouted or in
// a lane, the most overdue one's age) and audit events not yet sealed.
func TestBacklog(t *testing.T) {
	now := time.Date(2026, 3, 24, 10, 0, 0, 0, time.UTC)
	s := storetest.Open(t, func() time.Time { return now })
	ctx := context.Background()
	b, err := s.Backlog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b != (store.Backlog{}) {
		t.Fatalf("empty store: %+v", b)
	}
	for _, text := range []string{"fence cut", "gate open"} {
		if _, err := s.RaiseIncident(ctx, store.NewIncident{Site: "harbour", Category: "intrusion", Severity: "sev2", Reporter: "amara", Text: text},
			store.OutMessage{Channel: "chat", Site: "harbour", Kind: "incident", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	c := s.Client()
	// Two deadlines, and a message waiting in the SMS lane since 90 s ago.
	if err := c.ZAdd(ctx, s.Key("timers"), redisZ(now.Add(time.Minute), "1"), redisZ(now.Add(2*time.Minute), "2")).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.SAdd(ctx, s.Key("outbox", "lanes"), "sms:+447700900999").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.ZAdd(ctx, s.Key("outbox", "lane", "sms:+447700900999"), redisZ(now.Add(-90*time.Second), "1-1"), redisZ(now.Add(time.Minute), "1-2")).Err(); err != nil {
		t.Fatal(err)
	}
	events, err := c.XLen(ctx, s.Key("audit")).Result()
	if err != nil || events == 0 {
		t.Fatalf("audit events: %d, %v", events, err)
	}
	b, err = s.Backlog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := store.Backlog{DeadlinesPending: 2, OutboxPending: 2 + 2, OutboxOldestAge: 90 * time.Second, AuditUnsealed: events}
	if b.OutboxOldestAge < want.OutboxOldestAge {
		// The unrouted messages' ids carry Redis's own clock, which may be
		// later than the store's; the lane's 90 s is the floor.
		t.Errorf("oldest age %s, want at least %s", b.OutboxOldestAge, want.OutboxOldestAge)
	}
	b.OutboxOldestAge = want.OutboxOldestAge
	if b != want {
		t.Errorf("backlog %+v, want %+v", b, want)
	}
	// Once sealed, nothing is unsealed; a new event is.
	if _, err := s.NewAuditSealer(nil, "").Seal(ctx); err != nil {
		t.Fatal(err)
	}
	if b, err = s.Backlog(ctx); err != nil || b.AuditUnsealed != 0 {
		t.Errorf("after sealing: %+v, %v; want 0 unsealed", b, err)
	}
	if _, err := s.RaiseIncident(ctx, store.NewIncident{Site: "harbour", Category: "fire", Severity: "sev1", Reporter: "amara", Text: "smoke"}); err != nil {
		t.Fatal(err)
	}
	if b, err = s.Backlog(ctx); err != nil || b.AuditUnsealed != 1 {
		t.Errorf("after one more event: %+v, %v; want 1 unsealed", b, err)
	}
}

// redisZ is a sorted-set member scored by t in milliseconds, as muster
// scores deadlines and lanes.
func redisZ(t time.Time, member string) redis.Z {
	return redis.Z{Score: float64(t.UnixMilli()), Member: member}
}
