package store

import (
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/muster-ops/muster/internal/logging"
)

// RouteLibraryLogs sends go-redis's own log lines (pool, Sentinel and
// Cluster messages) to log at warn level instead of the standard library
// logger, so they are structured lines in muster's log stream. It sets
// go-redis's package-wide logger: call it once, from main.
func RouteLibraryLogs(log *zap.Logger) {
	redis.SetLogger(logging.Printf(log))
}
