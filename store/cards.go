package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cards are the chat messages that show a record (an incident card in a
// site channel, a task notice in someone's DMs). Chat adapters remember
// where they posted each one so they can edit it when the record changes
// on any surface.

// AddCard remembers that platform shows ref at loc (adapter-defined, e.g.
// "C0HARBOUR/1700000000.000100" for Slack, "channel/message" for Discord).
func (s *Store) AddCard(ctx context.Context, platform, ref, loc string) error {
	key := s.Key("cards", platform, ref)
	pipe := s.rdb.TxPipeline()
	pipe.SAdd(ctx, key, loc)
	pipe.Expire(ctx, key, 90*24*time.Hour)
	_, err := pipe.Exec(s.carry(ctx))
	return unavailable(err)
}

// Cards lists where platform shows ref.
func (s *Store) Cards(ctx context.Context, platform, ref string) ([]string, error) {
	v, err := s.rdb.SMembers(s.carry(ctx), s.Key("cards", platform, ref)).Result()
	return v, unavailable(err)
}

// Change is one record that changed (every transition script appends
// one to the changes stream).
type Change struct {
	ID  string // stream id, for AckChange
	Ref string // INC-4, T-17, A-3
}

// ReadChanges reads changed records for one consumer group (one per chat
// platform, e.g. "cards-slack"), so that across replicas each change is
// handled once per platform. block < 0 returns at once.
func (s *Store) ReadChanges(ctx context.Context, group, consumer string, count int, block time.Duration) ([]Change, error) {
	key := s.Key("changes")
	args := &redis.XReadGroupArgs{Group: group, Consumer: consumer, Streams: []string{key, ">"}, Count: int64(count), Block: block}
	res, err := s.rdb.XReadGroup(s.carry(ctx), args).Result()
	if err != nil && strings.Contains(err.Error(), "NOGROUP") {
		// Start from now: older changes concern cards of a past run.
		if err := s.rdb.XGroupCreateMkStream(s.carry(ctx), key, group, "$").Err(); err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
			return nil, unavailable(err)
		}
		res, err = s.rdb.XReadGroup(s.carry(ctx), args).Result()
	}
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable(err)
	}
	var out []Change
	for _, st := range res {
		for _, m := range st.Messages {
			out = append(out, Change{ID: m.ID, Ref: toString(m.Values["ref"])})
		}
	}
	return out, nil
}

// AckChange marks changes handled for a group.
func (s *Store) AckChange(ctx context.Context, group string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	return unavailable(s.rdb.XAck(s.carry(ctx), s.Key("changes"), group, ids...).Err())
}
