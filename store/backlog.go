package store

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Backlog is how much work waits in an organization's Redis: what the
// metrics scrape reads.
type Backlog struct {
	// DeadlinesPending is the escalation deadlines waiting (claimed ones
	// included).
	DeadlinesPending int64
	// OutboxPending is the messages waiting in the outbox: not yet routed,
	// or in a lane.
	OutboxPending int64
	// OutboxOldestAge is how long the most overdue message has waited past
	// the time it was due to be sent (0 when none is overdue).
	OutboxOldestAge time.Duration
	// AuditUnsealed is the audit events appended after the sealed head
	// (counted up to maxUnsealedCount).
	AuditUnsealed int64
	// AuditUnsealedAge is how long ago the oldest of them was appended
	// (0 when all are sealed).
	AuditUnsealedAge time.Duration
}

// maxUnsealedCount bounds how many unsealed events Backlog reads to count
// them: past it the sealer is far behind, and the figure says at least.
const maxUnsealedCount = 10000

// Backlog reads the backlog in two round trips.
func (s *Store) Backlog(ctx context.Context) (Backlog, error) {
	var b Backlog
	now := s.now()
	pipe := s.rdb.Pipeline()
	timers := pipe.ZCard(ctx, s.Key("timers"))
	unrouted := pipe.XLen(ctx, s.Key("outbox"))
	first := pipe.XRangeN(ctx, s.Key("outbox"), "-", "+", 1)
	lanes := pipe.SMembers(ctx, s.Key("outbox", "lanes"))
	head := pipe.HGet(ctx, s.Key("audit:head"), "id")
	if _, err := pipe.Exec(s.carry(ctx)); err != nil && err != redis.Nil {
		return b, unavailable(err)
	}
	b.DeadlinesPending = timers.Val()
	b.OutboxPending = unrouted.Val()
	// An unrouted message was due when it was queued: its stream id's time.
	if msgs := first.Val(); len(msgs) > 0 {
		b.OutboxOldestAge = overdue(now, streamTime(msgs[0].ID))
	}
	from := "-"
	if id := head.Val(); id != "" {
		from = "(" + id
	}
	pipe = s.rdb.Pipeline()
	type laneCmds struct {
		n     *redis.IntCmd
		first *redis.ZSliceCmd
	}
	var ls []laneCmds
	for _, l := range lanes.Val() {
		k := s.Key("outbox", "lane", l)
		ls = append(ls, laneCmds{pipe.ZCard(ctx, k), pipe.ZRangeWithScores(ctx, k, 0, 0)})
	}
	unsealed := pipe.XRangeN(ctx, s.Key("audit"), from, "+", maxUnsealedCount)
	if _, err := pipe.Exec(s.carry(ctx)); err != nil && err != redis.Nil {
		return b, unavailable(err)
	}
	for _, l := range ls {
		b.OutboxPending += l.n.Val()
		// A lane is scored by when its message is due to be sent.
		if z := l.first.Val(); len(z) > 0 {
			b.OutboxOldestAge = max(b.OutboxOldestAge, overdue(now, time.UnixMilli(int64(z[0].Score))))
		}
	}
	if tail := unsealed.Val(); len(tail) > 0 {
		b.AuditUnsealed = int64(len(tail))
		b.AuditUnsealedAge = overdue(now, streamTime(tail[0].ID))
	}
	return b, nil
}

func overdue(now, due time.Time) time.Duration {
	if due.IsZero() || !now.After(due) {
		return 0
	}
	return now.Sub(due)
}

// streamTime is the time in a stream entry's id ("ms-seq").
func streamTime(id string) time.Time {
	ms, _, _ := strings.Cut(id, "-")
	v, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(v)
}
