package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The outbox is a Redis Stream read through one consumer group: every
// message is delivered by exactly one process, and a message whose
// process died mid-delivery is reclaimed by another after a lease.
const outboxGroup = "delivery"

// OutboxEntry is one message taken from the outbox.
type OutboxEntry struct {
	ID     string // stream entry id
	Msg    OutMessage
	Queued time.Time
}

// EnsureOutbox creates the outbox stream and its consumer group.
func (s *Store) EnsureOutbox(ctx context.Context) error {
	err := s.rdb.XGroupCreateMkStream(ctx, s.Key("outbox"), outboxGroup, "0").Err()
	if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
		return unavailable(err)
	}
	return nil
}

// ReadOutbox waits up to block for new messages for this consumer.
func (s *Store) ReadOutbox(ctx context.Context, consumer string, count int, block time.Duration) ([]OutboxEntry, error) {
	res, err := s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: outboxGroup, Consumer: consumer, Streams: []string{s.Key("outbox"), ">"},
		Count: int64(count), Block: block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		if strings.Contains(err.Error(), "NOGROUP") {
			if e := s.EnsureOutbox(ctx); e != nil {
				return nil, e
			}
			return nil, nil
		}
		return nil, unavailable(err)
	}
	var out []OutboxEntry
	for _, st := range res {
		for _, m := range st.Messages {
			out = append(out, outboxEntry(m))
		}
	}
	return out, nil
}

// ReclaimOutbox takes over messages another consumer read but did not
// finish within minIdle (its process died).
func (s *Store) ReclaimOutbox(ctx context.Context, consumer string, minIdle time.Duration, count int) ([]OutboxEntry, error) {
	msgs, _, err := s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
		Stream: s.Key("outbox"), Group: outboxGroup, Consumer: consumer, MinIdle: minIdle, Start: "0-0", Count: int64(count),
	}).Result()
	if err != nil {
		if strings.Contains(err.Error(), "NOGROUP") {
			return nil, s.EnsureOutbox(ctx)
		}
		return nil, unavailable(err)
	}
	out := make([]OutboxEntry, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, outboxEntry(m))
	}
	return out, nil
}

// Take outcomes.
const (
	TakeOK     = "ok"
	TakeDup    = "dup"    // already taken by someone: never send twice
	TakeClosed = "closed" // its task was acknowledged meanwhile
)

// TakeOutbox marks a message as being sent, unless it was already taken
// or its task is closed. Only after TakeOK may the message go out.
func (s *Store) TakeOutbox(ctx context.Context, e OutboxEntry, consumer string) (string, error) {
	v, err := s.run(ctx, takeScript, ms(s.now()), e.Msg.Key, e.Msg.Task, e.Msg.Channel, e.Msg.To+e.Msg.Site, consumer)
	if err != nil {
		return "", err
	}
	return toString(v), nil
}

// FinishOutbox removes a handled message from the outbox.
func (s *Store) FinishOutbox(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	pipe := s.rdb.TxPipeline()
	pipe.XAck(ctx, s.Key("outbox"), outboxGroup, ids...)
	pipe.XDel(ctx, s.Key("outbox"), ids...)
	_, err := pipe.Exec(ctx)
	return unavailable(err)
}

// OutboxLen is how many messages wait in the outbox (read or not).
func (s *Store) OutboxLen(ctx context.Context) (int64, error) {
	n, err := s.rdb.XLen(ctx, s.Key("outbox")).Result()
	return n, unavailable(err)
}

func outboxEntry(m redis.XMessage) OutboxEntry {
	v := func(k string) string { return toString(m.Values[k]) }
	return OutboxEntry{ID: m.ID, Queued: fromMS(toInt(m.Values["queued"])), Msg: OutMessage{
		Key: v("key"), Channel: v("channel"), To: v("to"), Site: v("site"), Kind: v("kind"),
		Ref: v("ref"), Text: v("text"), Task: v("task"), Drill: v("drill"),
	}}
}

// WakeChannel is the pub/sub channel scripts publish to when a deadline
// may have moved earlier.
func (s *Store) WakeChannel() string { return s.Key("wake") }

// SubscribeWake subscribes to deadline changes. Close the PubSub when done.
func (s *Store) SubscribeWake(ctx context.Context) *redis.PubSub {
	return s.rdb.Subscribe(ctx, s.WakeChannel())
}
