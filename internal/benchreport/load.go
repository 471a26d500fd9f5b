package benchreport

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/muster-ops/muster/store"
)

// loadBatch is how many tasks go into one pipeline.
const loadBatch = 2000

// loadPeople and loadSites are who the loaded tasks are assigned to and
// where: the example config's guards at its two sites.
var (
	loadPeople = []string{"amara", "ben", "chloe", "dev", "elena"}
	loadSites  = []string{"harbour", "depot"}
)

// LoadOpenTasks writes n open tasks T-1..T-n into st's namespace in
// pipelines, as a plan trigger leaves them (the task hash, its timer, its
// assignee's open-task index) but without activations, timelines or audit
// events, which live in Redis only. Their first deadlines fall between
// from and from+spread, so an engine started before from holds them all
// pending. It returns how long the load took.
func LoadOpenTasks(ctx context.Context, st *store.Store, n int, from time.Time, spread time.Duration) (time.Duration, error) {
	start := time.Now()
	rdb := st.Client()
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	for lo := 1; lo <= n; lo += loadBatch {
		pipe := rdb.Pipeline()
		for i := lo; i < min(lo+loadBatch, n+1); i++ {
			num := strconv.Itoa(i)
			who := loadPeople[i%len(loadPeople)]
			due := from.Add(spread * time.Duration(i) / time.Duration(n)).UnixMilli()
			pipe.HSet(ctx, st.Key("task", num), "id", "T-"+num, "num", num, "activation", "", "plan", "fire-evacuation",
				"title", "Sweep floors and confirm they are clear", "role", "guard", "policy", "critical",
				"site", loadSites[i%len(loadSites)], "assignee", who, "assignees", who, "status", store.TaskOpen,
				"step", "0", "due", due, "created", now, "drill", "", "live_only", "")
			pipe.ZAdd(ctx, st.Key("timers"), redis.Z{Score: float64(due), Member: num})
			pipe.ZAdd(ctx, st.Key("tasks:open", who), redis.Z{Score: float64(i), Member: num})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return 0, fmt.Errorf("load open tasks: %w", err)
		}
	}
	if err := rdb.Set(ctx, st.Key("seq", "task"), n, 0).Err(); err != nil {
		return 0, fmt.Errorf("load open tasks: %w", err)
	}
	return time.Since(start), nil
}
