package redistest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// MasterName is the name the Sentinel monitors the primary under.
const MasterName = "mymaster"

// Sentinel is a primary, one replica and one Sentinel watching them.
type Sentinel struct {
	// Primary is the server that was primary at start; Replica followed it.
	Primary, Replica *Server
	// Sentinel is the sentinel process.
	Sentinel *Server
	// URL reaches the current primary through the Sentinel:
	// redis://sentinel?master_name=mymaster.
	URL string
}

// SentinelOptions tune StartSentinel.
type SentinelOptions struct {
	// MinReplicas sets min-replicas-to-write on both servers (with
	// min-replicas-max-lag 10): a primary that has lost its replica (it
	// was just promoted away) refuses writes instead of accepting writes
	// that the failover then discards. 0 leaves Redis's default (off).
	MinReplicas int
}

// StartSentinel starts a primary, a replica in sync with it, and a
// Sentinel that knows both, with a quorum of 1 and a 1 s down-after, so
// a failover takes about a second.
func StartSentinel(t testing.TB, o SentinelOptions) *Sentinel {
	t.Helper()
	data := func(int) []string {
		// Full syncs start at once instead of waiting 5 s for more
		// replicas to join (the default diskless sync delay).
		lines := []string{"repl-diskless-sync-delay 0"}
		if o.MinReplicas > 0 {
			lines = append(lines, "min-replicas-to-write "+strconv.Itoa(o.MinReplicas), "min-replicas-max-lag 10")
		}
		return lines
	}
	s := &Sentinel{}
	s.Primary = start(t, "primary", data)
	ph, pp := splitAddr(t, s.Primary.Addr)
	s.Replica = start(t, "replica", func(port int) []string {
		return append(data(port), fmt.Sprintf("replicaof %s %d", ph, pp))
	})
	if err := waitReplicaSynced(s.Replica); err != nil {
		t.Fatalf("redistest: replica %s: %v\n%s", s.Replica.Addr, err, s.Replica.tail())
	}
	// Start the Sentinel only now: its first INFO to the primary then
	// lists the replica, rather than ten seconds later.
	s.Sentinel = start(t, "sentinel", func(int) []string {
		return []string{
			fmt.Sprintf("sentinel monitor %s %s %d 1", MasterName, ph, pp),
			"sentinel down-after-milliseconds " + MasterName + " 1000",
			"sentinel failover-timeout " + MasterName + " 10000",
			"sentinel parallel-syncs " + MasterName + " 1",
		}
	}, "--sentinel")
	if err := s.waitReplicaKnown(); err != nil {
		t.Fatalf("redistest: sentinel %s: %v\n%s", s.Sentinel.Addr, err, s.Sentinel.tail())
	}
	s.URL = "redis://" + s.Sentinel.Addr + "?master_name=" + MasterName
	return s
}

// waitReplicaSynced waits until the replica's link to its primary is up.
func waitReplicaSynced(r *Server) error {
	cl := r.Client()
	defer cl.Close()
	return poll(startTimeout, func(ctx context.Context) (bool, error) {
		info, err := cl.Info(ctx, "replication").Result()
		if err != nil {
			return false, err
		}
		if !strings.Contains(info, "master_link_status:up") {
			return false, fmt.Errorf("link not up yet")
		}
		return true, nil
	})
}

// waitReplicaKnown waits until the Sentinel sees the replica connected
// and in sync: only then can it promote it.
func (s *Sentinel) waitReplicaKnown() error {
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Sentinel.Addr, MaxRetries: -1})
	defer sc.Close()
	return poll(startTimeout, func(ctx context.Context) (bool, error) {
		reps, err := sc.Replicas(ctx, MasterName).Result()
		if err != nil {
			return false, err
		}
		for _, r := range reps {
			addr := r["ip"] + ":" + r["port"]
			if addr == s.Replica.Addr && r["flags"] == "slave" && r["master-link-status"] == "ok" {
				return true, nil
			}
		}
		return false, fmt.Errorf("replica not known yet: %v", reps)
	})
}

// MasterAddr asks the Sentinel which server is primary now.
func (s *Sentinel) MasterAddr(ctx context.Context) (string, error) {
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Sentinel.Addr, MaxRetries: -1})
	defer sc.Close()
	v, err := sc.GetMasterAddrByName(ctx, MasterName).Result()
	if err != nil {
		return "", err
	}
	if len(v) != 2 {
		return "", fmt.Errorf("sentinel answered %v", v)
	}
	return v[0] + ":" + v[1], nil
}

// Failover makes the Sentinel promote the replica (SENTINEL FAILOVER) and
// waits until the Sentinel names it primary and it accepts writes. The
// old primary keeps running; the Sentinel turns it into a replica later.
func (s *Sentinel) Failover(ctx context.Context) (newPrimary *Server, err error) {
	before, err := s.MasterAddr(ctx)
	if err != nil {
		return nil, err
	}
	want := s.Replica
	if before == s.Replica.Addr {
		want = s.Primary
	}
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Sentinel.Addr, MaxRetries: -1})
	defer sc.Close()
	if err := sc.Failover(ctx, MasterName).Err(); err != nil {
		return nil, fmt.Errorf("sentinel failover: %w", err)
	}
	return want, s.waitPrimary(ctx, want)
}

// KillPrimary kills the current primary with SIGKILL and waits until the
// Sentinel has promoted the other server and it accepts writes.
func (s *Sentinel) KillPrimary(ctx context.Context) (newPrimary *Server, err error) {
	before, err := s.MasterAddr(ctx)
	if err != nil {
		return nil, err
	}
	dead, want := s.Primary, s.Replica
	if before == s.Replica.Addr {
		dead, want = s.Replica, s.Primary
	}
	dead.Kill()
	return want, s.waitPrimary(ctx, want)
}

// waitPrimary waits until the Sentinel names srv primary and srv says so.
func (s *Sentinel) waitPrimary(ctx context.Context, srv *Server) error {
	cl := srv.Client()
	defer cl.Close()
	timeout := startTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	return poll(timeout, func(ctx context.Context) (bool, error) {
		addr, err := s.MasterAddr(ctx)
		if err != nil {
			return false, err
		}
		if addr != srv.Addr {
			return false, fmt.Errorf("sentinel still names %s", addr)
		}
		info, err := cl.Info(ctx, "replication").Result()
		if err != nil {
			return false, err
		}
		return strings.Contains(info, "role:master"), nil
	})
}
