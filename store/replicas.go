package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotReplicated: a write ran on the primary, but fewer replicas than
// required confirmed it in time, so it is not reported as done.
var ErrNotReplicated = errors.New("write not confirmed by the replicas")

// WaitReplicasHook returns a go-redis hook for a single-server or
// Sentinel client that follows every script call (EVALSHA, EVAL: every
// muster transition) with WAIT n on the same connection, in the same
// round trip, and fails the call with ErrNotReplicated when fewer than n
// replicas have it within timeout.
//
// Why: Redis replicates asynchronously, and a Sentinel failover promotes
// a replica without waiting for it to catch up, so a transition the
// primary confirmed a moment before the failover can vanish (measured in
// internal/scenario/sentinel_test.go). With this hook a confirmed
// transition is on the replica too. It belongs in the store (a URL
// option, e.g. wait_replicas=1); it lives here until it moves there.
//
// Not for a ClusterClient: its pipelines route a keyless WAIT to some
// node, not to the connection the script ran on.
func WaitReplicasHook(rdb redis.UniversalClient, n int, timeout time.Duration) redis.Hook {
	return &waitHook{rdb: rdb, n: n, timeout: timeout}
}

type waitHook struct {
	rdb     redis.UniversalClient
	n       int
	timeout time.Duration
}

var _ redis.Hook = (*waitHook)(nil)

func (h *waitHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *waitHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *waitHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		name := strings.ToLower(cmd.Name())
		if name != "evalsha" && name != "eval" {
			return next(ctx, cmd)
		}
		// One pipeline, so one connection: WAIT counts the replicas that
		// have this connection's last write. (The pipeline runs through
		// the pipeline hooks, so this hook does not see the script twice.)
		pipe := h.rdb.Pipeline()
		_ = pipe.Process(ctx, cmd)
		w := pipe.Do(ctx, "WAIT", h.n, h.timeout.Milliseconds())
		_, _ = pipe.Exec(ctx)
		// A script's error reply (or NOSCRIPT, which makes Script.Run
		// retry with EVAL) stands; a nil reply may follow a write.
		if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		got, err := w.Int()
		if err != nil {
			err = fmt.Errorf("%w: %w", ErrNotReplicated, err)
			cmd.SetErr(err)
			return err
		}
		if got < h.n {
			err := fmt.Errorf("%w: %d of %d replicas within %v", ErrNotReplicated, got, h.n, h.timeout)
			cmd.SetErr(err)
			return err
		}
		return cmd.Err()
	}
}
