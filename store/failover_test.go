package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Which failures make a Cluster client reload its slot map: those that
// say the node may be gone or no longer serve the slot, not answers about
// the data.
func TestTopologyMayHaveChanged(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: fmt.Errorf("connect: %w", syscall.ECONNREFUSED)}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{redis.Nil, false},
		{context.Canceled, false},
		{errors.New("WRONGTYPE Operation against a key holding the wrong kind of value"), false},
		{errors.New("ERR Error running script: wrong state"), false},
		{refused, true},
		{fmt.Errorf("take: %w", refused), true},
		{io.EOF, true},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{context.DeadlineExceeded, true},
		{errors.New("CLUSTERDOWN The cluster is down"), true},
		{errors.New("TRYAGAIN Multiple keys request during rehashing of slot"), true},
	} {
		if got := topologyMayHaveChanged(c.err); got != c.want {
			t.Errorf("topologyMayHaveChanged(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
