package store

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterReload is how old a Redis Cluster client's slot map may grow
// before the next command reloads it (CLUSTER SLOTS from any node, in the
// background). go-redis reloads by default only on a MOVED or ASK answer,
// or once a minute: when a master dies, nobody answers MOVED for its
// slots (the dead master answers nothing, the others still name it until
// the cluster promotes its replica), so the client kept sending to the
// dead master for up to a minute after the promotion. With the reload
// below on every connection error, and this interval as a backstop, a
// client finds the promoted replica within about a second of the
// promotion.
const ClusterReload = time.Second

// followFailover makes a Cluster client reload its slot map whenever a
// command fails in a way that says the node it went to may be gone or
// no longer serve the slot: a refused, reset or closed connection, a
// timeout, CLUSTERDOWN (the cluster is between losing a master and
// promoting its replica) or TRYAGAIN. Reloads run in the background and
// are coalesced by go-redis (one at a time, at most one every 200 ms),
// so a burst of failures costs a few CLUSTER SLOTS, not one each.
func followFailover(c *redis.ClusterClient) *redis.ClusterClient {
	c.AddHook(reloadHook{c: c})
	return c
}

// reloadHook is followFailover's hook.
type reloadHook struct{ c *redis.ClusterClient }

var _ redis.Hook = reloadHook{}

func (h reloadHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h reloadHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if topologyMayHaveChanged(err) {
			h.c.ReloadState(ctx)
		}
		return err
	}
}

func (h reloadHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		reload := topologyMayHaveChanged(err)
		for _, c := range cmds {
			reload = reload || topologyMayHaveChanged(c.Err())
		}
		if reload {
			h.c.ReloadState(ctx)
		}
		return err
	}
}

// topologyMayHaveChanged reports whether err may come from a node that
// died or stopped serving its slots.
func topologyMayHaveChanged(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) {
		return false
	}
	var ne net.Error
	switch {
	case errors.As(err, &ne), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, context.DeadlineExceeded):
		return true
	}
	msg := err.Error()
	return strings.HasPrefix(msg, "CLUSTERDOWN") || strings.HasPrefix(msg, "TRYAGAIN") ||
		strings.Contains(msg, "connection refused") || strings.Contains(msg, "connection reset")
}
