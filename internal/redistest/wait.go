package redistest

import (
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/muster-ops/muster/store"
)

// ErrNotReplicated is store.ErrNotReplicated.
var ErrNotReplicated = store.ErrNotReplicated

// WaitReplicasHook is store.WaitReplicasHook, which production turns on
// with the URL option wait_replicas=N.
func WaitReplicasHook(rdb redis.UniversalClient, n int, timeout time.Duration) redis.Hook {
	return store.WaitReplicasHook(rdb, n, timeout)
}
