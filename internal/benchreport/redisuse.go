package benchreport

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisUse is what Redis reports about its own work so far (INFO cpu,
// commandstats, memory): the benchmarks take it before and after a
// measurement and report the difference, so each figure is Redis's own
// account, seen from outside muster.
type RedisUse struct {
	// CPU is used_cpu_user + used_cpu_sys: the server's whole CPU time,
	// the network and protocol work included.
	CPU time.Duration
	// Calls counts calls by command (commands inside scripts included).
	Calls map[string]int64
	// Usec is the time Redis spent in each command, by command.
	Usec map[string]int64
	// UsedMemory is used_memory, in bytes.
	UsedMemory int64
}

// ReadRedisUse reads INFO cpu, commandstats and memory.
func ReadRedisUse(ctx context.Context, rdb redis.UniversalClient) (RedisUse, error) {
	raw, err := rdb.Info(ctx, "cpu", "commandstats", "memory").Result()
	if err != nil {
		return RedisUse{}, fmt.Errorf("redis info: %w", err)
	}
	return parseRedisUse(raw), nil
}

// parseRedisUse reads the INFO sections' text.
func parseRedisUse(raw string) RedisUse {
	u := RedisUse{Calls: map[string]int64{}, Usec: map[string]int64{}}
	var cpu float64
	for _, line := range strings.Split(raw, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch {
		case k == "used_cpu_user" || k == "used_cpu_sys":
			f, _ := strconv.ParseFloat(v, 64)
			cpu += f
		case k == "used_memory":
			u.UsedMemory, _ = strconv.ParseInt(v, 10, 64)
		case strings.HasPrefix(k, "cmdstat_"):
			name := strings.TrimPrefix(k, "cmdstat_")
			for _, kv := range strings.Split(v, ",") {
				f, val, _ := strings.Cut(kv, "=")
				n, _ := strconv.ParseInt(val, 10, 64)
				switch f {
				case "calls":
					u.Calls[name] = n
				case "usec":
					u.Usec[name] = n
				}
			}
		}
	}
	u.CPU = time.Duration(cpu * float64(time.Second))
	return u
}

// Since is the work done between earlier and u.
func (u RedisUse) Since(earlier RedisUse) RedisUse {
	d := RedisUse{CPU: u.CPU - earlier.CPU, UsedMemory: u.UsedMemory - earlier.UsedMemory,
		Calls: map[string]int64{}, Usec: map[string]int64{}}
	for k, v := range u.Calls {
		if n := v - earlier.Calls[k]; n > 0 {
			d.Calls[k] = n
		}
	}
	for k, v := range u.Usec {
		if n := v - earlier.Usec[k]; n > 0 {
			d.Usec[k] = n
		}
	}
	return d
}

// writeCommands are the commands muster uses that change data (Redis's
// "write" flag); commands run inside scripts are counted one by one.
var writeCommands = map[string]bool{
	"set": true, "del": true, "unlink": true, "expire": true, "pexpire": true, "incr": true, "incrby": true,
	"hset": true, "hsetnx": true, "hdel": true, "hincrby": true, "hmset": true,
	"zadd": true, "zrem": true, "zincrby": true, "zremrangebyscore": true, "zremrangebyrank": true,
	"sadd": true, "srem": true, "lpush": true, "rpush": true, "lpop": true, "rpop": true, "ltrim": true,
	"xadd": true, "xack": true, "xdel": true, "xtrim": true, "xclaim": true, "xautoclaim": true,
	"xreadgroup": true, "rename": true, "getdel": true, "setnx": true, "psetex": true,
}

// Writes counts the calls of commands that change data.
func (u RedisUse) Writes() int64 {
	var n int64
	for k, v := range u.Calls {
		if writeCommands[k] || strings.HasPrefix(k, "xgroup|") {
			n += v
		}
	}
	return n
}

// Top lists the commands that took the most of Redis's time, "name
// calls×, µs", at most n.
func (u RedisUse) Top(n int) []string {
	names := make([]string, 0, len(u.Usec))
	for k := range u.Usec {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		if u.Usec[names[i]] != u.Usec[names[j]] {
			return u.Usec[names[i]] > u.Usec[names[j]]
		}
		return names[i] < names[j]
	})
	var out []string
	for _, k := range names[:min(n, len(names))] {
		out = append(out, fmt.Sprintf("%s %d× %.1f ms", k, u.Calls[k], float64(u.Usec[k])/1000))
	}
	return out
}
