package storetest

import (
	"context"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/muster-ops/muster/store"
)

// RoundTrips counts the Redis round trips of a store's client, the way
// muster's round-trip goals count them: one per command sent alone, one
// per pipeline or MULTI/EXEC, one per script call.
type RoundTrips struct{ n atomic.Int64 }

var _ redis.Hook = (*RoundTrips)(nil)

// CountRoundTrips starts counting the round trips of st's client.
func CountRoundTrips(st *store.Store) *RoundTrips {
	rt := &RoundTrips{}
	st.Client().AddHook(rt)
	return rt
}

// Load is how many round trips were made since counting started.
func (c *RoundTrips) Load() int64 { return c.n.Load() }

// DialHook implements redis.Hook.
func (c *RoundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook: one command, one round trip.
func (c *RoundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook: one pipeline, one round trip.
func (c *RoundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}
