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

// Sentinel is a primary, its replicas and one Sentinel watching them.
type Sentinel struct {
	// Primary is the server that was primary at start.
	Primary *Server
	// Replica is the first replica; Replicas are all of them.
	Replica  *Server
	Replicas []*Server
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
	// Replicas is how many replicas follow the primary (default 1). With
	// two, a failover leaves the new primary a replica at once (the
	// Sentinel repoints the other one), where with one the new primary
	// waits for the old one to be turned into its replica (about ten
	// seconds), refusing writes meanwhile when MinReplicas is set.
	Replicas int
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
	for i := 0; i < max(o.Replicas, 1); i++ {
		r := start(t, "replica-"+strconv.Itoa(i), func(port int) []string {
			return append(data(port), fmt.Sprintf("replicaof %s %d", ph, pp))
		})
		if err := waitReplicaSynced(r); err != nil {
			t.Fatalf("redistest: replica %s: %v\n%s", r.Addr, err, r.tail())
		}
		s.Replicas = append(s.Replicas, r)
	}
	s.Replica = s.Replicas[0]
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

// waitReplicaKnown waits until the Sentinel sees every replica connected
// and in sync: only then can it promote one.
func (s *Sentinel) waitReplicaKnown() error {
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Sentinel.Addr, MaxRetries: -1})
	defer sc.Close()
	return poll(startTimeout, func(ctx context.Context) (bool, error) {
		reps, err := sc.Replicas(ctx, MasterName).Result()
		if err != nil {
			return false, err
		}
		ok := 0
		for _, r := range reps {
			if r["flags"] == "slave" && r["master-link-status"] == "ok" {
				ok++
			}
		}
		if ok < len(s.Replicas) {
			return false, fmt.Errorf("replicas not all known yet: %v", reps)
		}
		return true, nil
	})
}

// servers are the data servers (not the Sentinel).
func (s *Sentinel) servers() []*Server { return append([]*Server{s.Primary}, s.Replicas...) }

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

// Failover makes the Sentinel promote a replica (SENTINEL FAILOVER) and
// waits until the Sentinel names it primary and it accepts writes. The
// old primary keeps running; the Sentinel turns it into a replica later.
func (s *Sentinel) Failover(ctx context.Context) (newPrimary *Server, err error) {
	before, err := s.MasterAddr(ctx)
	if err != nil {
		return nil, err
	}
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Sentinel.Addr, MaxRetries: -1})
	defer sc.Close()
	if err := sc.Failover(ctx, MasterName).Err(); err != nil {
		return nil, fmt.Errorf("sentinel failover: %w", err)
	}
	return s.waitPrimary(ctx, before)
}

// KillPrimary kills the current primary with SIGKILL and waits until the
// Sentinel has promoted a replica and it accepts writes.
func (s *Sentinel) KillPrimary(ctx context.Context) (newPrimary *Server, err error) {
	f, err := s.Kill(ctx)
	if err != nil {
		return nil, err
	}
	return f.Promoted(ctx)
}

// Kill kills the current primary with SIGKILL and returns at once; the
// Failover's Promoted waits until the Sentinel has promoted a replica and
// it accepts writes.
func (s *Sentinel) Kill(ctx context.Context) (*Failover, error) {
	before, err := s.MasterAddr(ctx)
	if err != nil {
		return nil, err
	}
	f := &Failover{}
	for _, srv := range s.servers() {
		if srv.Addr == before {
			srv.Kill()
			f.Killed, f.KilledAt = srv, time.Now()
		}
	}
	if f.Killed == nil {
		return nil, fmt.Errorf("the Sentinel names %s, which is none of ours", before)
	}
	f.wait = func(ctx context.Context) (*Server, error) {
		np, err := s.waitPrimary(ctx, before)
		if err == nil {
			f.PromotedAt = time.Now()
		}
		return np, err
	}
	return f, nil
}

// waitPrimary waits until the Sentinel names a primary other than
// before, and that server says it is primary.
func (s *Sentinel) waitPrimary(ctx context.Context, before string) (*Server, error) {
	timeout := startTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	var found *Server
	err := poll(timeout, func(ctx context.Context) (bool, error) {
		addr, err := s.MasterAddr(ctx)
		if err != nil {
			return false, err
		}
		if addr == before {
			return false, fmt.Errorf("sentinel still names %s", addr)
		}
		for _, srv := range s.servers() {
			if srv.Addr != addr {
				continue
			}
			cl := srv.Client()
			info, err := cl.Info(ctx, "replication").Result()
			cl.Close()
			if err != nil {
				return false, err
			}
			found = srv
			return strings.Contains(info, "role:master"), nil
		}
		return false, fmt.Errorf("sentinel names %s, which is none of ours", addr)
	})
	return found, err
}
