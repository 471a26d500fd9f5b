package store

import (
	"context"
	"fmt"
)

var enqueueScript = loadScript("outbox_enqueue")

// Enqueue puts messages on the outbox, each at most once per Key (an
// empty Key is always queued). It returns how many were queued.
func (s *Store) Enqueue(ctx context.Context, msgs ...OutMessage) (int64, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	v, err := s.run(ctx, enqueueScript, ms(s.now()), mustJSON(msgs))
	if err != nil {
		return 0, fmt.Errorf("enqueue: %w", err)
	}
	return toInt(v), nil
}
