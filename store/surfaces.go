package store

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// With more than one chat surface (Slack and Discord), an outbox message
// is delivered once per surface: the notify.Dispatcher records here each
// surface that took it, so a retry of the message asks only the others.
// The record is a hash outbox:surfaces:<message id>, field <surface>,
// value the time (ms) it took the message. FinishOutbox and FailOutbox
// delete it with the message (lua/outbox_done.lua); the expiry only
// reclaims the record of a message deleted some other way.

// SurfacesTTL is how long a record of the surfaces that took a message is
// kept after its last change: far longer than a message is retried.
const SurfacesTTL = 3 * 24 * time.Hour

func (s *Store) surfacesKey(id string) string { return s.Key("outbox", "surfaces", id) }

// SurfacesTaken returns the chat surfaces that took outbox message id.
func (s *Store) SurfacesTaken(ctx context.Context, id string) (map[string]bool, error) {
	names, err := s.rdb.HKeys(s.carry(ctx), s.surfacesKey(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("surfaces of %s: %w", id, unavailable(err))
	}
	taken := make(map[string]bool, len(names))
	for _, n := range names {
		taken[n] = true
	}
	return taken, nil
}

// MarkSurface records that chat surface took outbox message id.
func (s *Store) MarkSurface(ctx context.Context, id, surface string) error {
	k := s.surfacesKey(id)
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, k, surface, strconv.FormatInt(ms(s.now()), 10))
	pipe.PExpire(ctx, k, SurfacesTTL)
	if _, err := pipe.Exec(s.carry(ctx)); err != nil {
		return fmt.Errorf("mark %s took %s: %w", surface, id, unavailable(err))
	}
	return nil
}
