package redistest

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterSlots is the number of hash slots of a Redis Cluster.
const clusterSlots = 16384

// Cluster is a running Redis Cluster.
type Cluster struct {
	// Nodes are the masters at start; Nodes[i] serves slots
	// [i*16384/n, (i+1)*16384/n) until a failover.
	Nodes []*Server
	// Replicas[i] are the replicas of Nodes[i] (none unless
	// ClusterOptions.Replicas is set).
	Replicas [][]*Server
	// URL reaches the cluster through store.NewClient:
	// redis://first?addr=second&addr=third (every node, replicas too).
	URL string
}

// ClusterOptions tune StartClusterWith.
type ClusterOptions struct {
	// Replicas is how many replicas follow each master (default none).
	// With one, killing a master makes the cluster promote its replica
	// (KillMaster).
	Replicas int
	// NodeTimeout is cluster-node-timeout: how long a master may be
	// unreachable before the others count it failed and its replica is
	// promoted (default 2 s).
	NodeTimeout time.Duration
}

// StartCluster starts a 3-master Redis Cluster on loopback and returns
// once every node agrees that all 16384 slots are served.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	return StartClusterWith(t, ClusterOptions{})
}

// StartClusterWith starts a 3-master Redis Cluster on loopback, with
// o.Replicas replicas per master, and returns once every node agrees
// that all 16384 slots are served and every replica is in sync.
func StartClusterWith(t testing.TB, o ClusterOptions) *Cluster {
	t.Helper()
	const n = 3
	timeout := o.NodeTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	c := &Cluster{Replicas: make([][]*Server, n)}
	var bus0 int // node 0's bus port, for CLUSTER MEET
	node := func(name string) *Server {
		return start(t, name, func(port int) []string {
			// The bus port defaults to port+10000, which may be taken or
			// beyond 65535: pick a free one too (cluster-port, Redis 7).
			bus, err := freePort()
			if err != nil {
				t.Fatalf("redistest: free port: %v", err)
			}
			if bus0 == 0 {
				bus0 = bus
			}
			return []string{
				"cluster-port " + strconv.Itoa(bus),
				"cluster-enabled yes",
				"cluster-config-file nodes.conf",
				// How long a master may be unreachable before it counts
				// as failed and its replica is promoted.
				"cluster-node-timeout " + strconv.Itoa(int(timeout.Milliseconds())),
				"cluster-require-full-coverage yes",
				// Full syncs start at once instead of waiting 5 s for
				// more replicas (the default diskless sync delay).
				"repl-diskless-sync-delay 0",
			}
		})
	}
	for i := 0; i < n; i++ {
		c.Nodes = append(c.Nodes, node("cluster-"+strconv.Itoa(i)))
	}
	for i := 0; i < n; i++ {
		for k := 0; k < o.Replicas; k++ {
			c.Replicas[i] = append(c.Replicas[i], node(fmt.Sprintf("cluster-%d-replica-%d", i, k)))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	host0, port0 := splitAddr(t, c.Nodes[0].Addr)
	// Assign each master its third of the slots, then introduce every
	// node to the first.
	for i, s := range c.Nodes {
		cl := s.Client()
		from, to := i*clusterSlots/n, (i+1)*clusterSlots/n
		slots := make([]int, 0, to-from)
		for k := from; k < to; k++ {
			slots = append(slots, k)
		}
		err := cl.ClusterAddSlots(ctx, slots...).Err()
		if err == nil && i > 0 {
			err = cl.Do(ctx, "cluster", "meet", host0, port0, bus0).Err()
		}
		cl.Close()
		if err != nil {
			t.Fatalf("redistest: cluster set-up on %s: %v", s.Addr, err)
		}
	}
	for _, s := range c.allReplicas() {
		cl := s.Client()
		err := cl.Do(ctx, "cluster", "meet", host0, port0, bus0).Err()
		cl.Close()
		if err != nil {
			t.Fatalf("redistest: cluster meet from %s: %v", s.Addr, err)
		}
	}
	total := n * (1 + o.Replicas)
	for _, s := range c.Nodes {
		if err := waitClusterOK(s, total); err != nil {
			t.Fatalf("redistest: cluster node %s: %v\n%s", s.Addr, err, s.tail())
		}
	}
	// Each replica follows its master once it knows the master's id.
	for i, m := range c.Nodes {
		id, err := idOf(ctx, m)
		if err != nil {
			t.Fatalf("redistest: CLUSTER MYID on %s: %v", m.Addr, err)
		}
		for _, r := range c.Replicas[i] {
			if err := replicate(r, id); err != nil {
				t.Fatalf("redistest: cluster replica %s of %s: %v\n%s", r.Addr, m.Addr, err, r.tail())
			}
			if err := waitReplicaSynced(r); err != nil {
				t.Fatalf("redistest: cluster replica %s: %v\n%s", r.Addr, err, r.tail())
			}
		}
	}
	for _, s := range append(append([]*Server(nil), c.Nodes...), c.allReplicas()...) {
		if err := waitClusterOK(s, total); err != nil {
			t.Fatalf("redistest: cluster node %s: %v\n%s", s.Addr, err, s.tail())
		}
	}
	if o.Replicas > 0 {
		// A replica can be promoted only once every master counts it
		// as the replica of its master (gossip spreads that).
		for _, s := range c.Nodes {
			if err := waitReplicasKnown(s, n*o.Replicas); err != nil {
				t.Fatalf("redistest: cluster node %s: %v", s.Addr, err)
			}
		}
	}
	q := url.Values{}
	for _, s := range append(c.Nodes[1:], c.allReplicas()...) {
		q.Add("addr", s.Addr)
	}
	c.URL = "redis://" + c.Nodes[0].Addr + "?" + q.Encode()
	return c
}

// allReplicas lists every replica, master by master.
func (c *Cluster) allReplicas() []*Server {
	var out []*Server
	for _, rs := range c.Replicas {
		out = append(out, rs...)
	}
	return out
}

// replicate makes r a replica of the master with node id, retrying while
// r does not know that node yet (gossip is still spreading it).
func replicate(r *Server, id string) error {
	cl := r.Client()
	defer cl.Close()
	return poll(startTimeout, func(ctx context.Context) (bool, error) {
		if err := cl.Do(ctx, "cluster", "replicate", id).Err(); err != nil {
			return false, err
		}
		return true, nil
	})
}

// waitReplicasKnown waits until s's view of the cluster holds n replicas
// whose links to their masters are up.
func waitReplicasKnown(s *Server, n int) error {
	cl := s.Client()
	defer cl.Close()
	return poll(startTimeout, func(ctx context.Context) (bool, error) {
		nodes, err := cl.ClusterNodes(ctx).Result()
		if err != nil {
			return false, err
		}
		k := 0
		for _, line := range strings.Split(nodes, "\n") {
			f := strings.Fields(line)
			if len(f) >= 8 && strings.Contains(f[2], "slave") && !strings.Contains(f[2], "fail") && f[7] == "connected" {
				k++
			}
		}
		if k < n {
			return false, fmt.Errorf("%d replicas known, want %d", k, n)
		}
		return true, nil
	})
}

// clusterMasters is how many masters a test cluster has.
const clusterMasters = 3

// waitClusterOK waits until the node reports the cluster healthy, knows
// n nodes, and maps every slot to one of the three masters.
func waitClusterOK(s *Server, n int) error {
	cl := s.Client()
	defer cl.Close()
	return poll(startTimeout, func(ctx context.Context) (bool, error) {
		info, err := cl.ClusterInfo(ctx).Result()
		if err != nil {
			return false, err
		}
		if !strings.Contains(info, "cluster_state:ok") ||
			!strings.Contains(info, "cluster_slots_ok:"+strconv.Itoa(clusterSlots)) ||
			!strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(n)) {
			f := strings.Fields(info)
			return false, fmt.Errorf("not ready yet: %s", strings.Join(f[:min(len(f), 6)], " "))
		}
		slots, err := cl.ClusterSlots(ctx).Result()
		if err != nil {
			return false, err
		}
		masters := map[string]bool{}
		for _, r := range slots {
			if len(r.Nodes) > 0 {
				masters[r.Nodes[0].Addr] = true
			}
		}
		return len(masters) == clusterMasters, nil
	})
}

// Master returns the node that serves key's hash slot.
func (c *Cluster) Master(t testing.TB, key string) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cl := c.Nodes[0].Client()
	defer cl.Close()
	slot, err := cl.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		t.Fatalf("redistest: CLUSTER KEYSLOT %q: %v", key, err)
	}
	return c.Nodes[int(slot)*len(c.Nodes)/clusterSlots]
}

// Keys counts, per node, the keys that match pattern (for checks that a
// namespace's keys all live on one node).
func (c *Cluster) Keys(t testing.TB, pattern string) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out := map[string]int{}
	for _, s := range c.Nodes {
		cl := s.Client()
		keys, err := scanAll(ctx, cl, pattern)
		cl.Close()
		if err != nil {
			t.Fatalf("redistest: scan %s: %v", s.Addr, err)
		}
		if len(keys) > 0 {
			out[s.Addr] = len(keys)
		}
	}
	return out
}

func scanAll(ctx context.Context, cl *redis.Client, pattern string) ([]string, error) {
	var keys []string
	iter := cl.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	return keys, iter.Err()
}

func splitAddr(t testing.TB, addr string) (string, int64) {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	port, err := strconv.ParseInt(addr[i+1:], 10, 64)
	if err != nil {
		t.Fatalf("redistest: bad address %q", addr)
	}
	return addr[:i], port
}

// KillMaster kills, with SIGKILL, the master that serves key's slot now,
// and returns at once; the Failover's Promoted waits until the cluster
// has promoted one of its replicas. The cluster needs replicas
// (ClusterOptions.Replicas).
func (c *Cluster) KillMaster(ctx context.Context, key string) (*Failover, error) {
	killed, err := c.serving(ctx, key)
	if err != nil {
		return nil, err
	}
	killedID, err := idOf(ctx, killed)
	if err != nil {
		return nil, err
	}
	// Its replicas: the nodes whose CLUSTER NODES line names it master.
	var replicas []*Server
	for _, s := range c.all() {
		if s == killed || s.dead() {
			continue
		}
		if m, err := masterOf(ctx, s); err == nil && m == killedID {
			replicas = append(replicas, s)
		}
	}
	if len(replicas) == 0 {
		return nil, fmt.Errorf("master %s has no replica to promote", killed.Addr)
	}
	killed.Kill()
	f := &Failover{Killed: killed, KilledAt: time.Now()}
	f.wait = func(ctx context.Context) (*Server, error) {
		var promoted *Server
		err := pollCtx(ctx, func(ctx context.Context) (bool, error) {
			for _, r := range replicas {
				cl := r.Client()
				info, err := cl.Info(ctx, "replication").Result()
				cl.Close()
				if err == nil && strings.Contains(info, "role:master") {
					promoted = r
					return true, nil
				}
			}
			return false, fmt.Errorf("no replica of %s promoted yet", killed.Addr)
		})
		if err != nil {
			return nil, err
		}
		f.PromotedAt = time.Now()
		return promoted, waitHealthy(promoted)
	}
	return f, nil
}

// waitHealthy waits until s reports the cluster healthy (every slot
// served).
func waitHealthy(s *Server) error {
	cl := s.Client()
	defer cl.Close()
	return poll(startTimeout, func(ctx context.Context) (bool, error) {
		info, err := cl.ClusterInfo(ctx).Result()
		if err != nil {
			return false, err
		}
		return strings.Contains(info, "cluster_state:ok"), nil
	})
}

// all lists every node, masters first.
func (c *Cluster) all() []*Server {
	return append(append([]*Server(nil), c.Nodes...), c.allReplicas()...)
}

// serving is the node that serves key's slot now, as a live node's
// CLUSTER SLOTS says.
func (c *Cluster) serving(ctx context.Context, key string) (*Server, error) {
	var lastErr error
	for _, s := range c.all() {
		if s.dead() {
			continue
		}
		cl := s.Client()
		slot, err := cl.ClusterKeySlot(ctx, key).Result()
		var slots []redis.ClusterSlot
		if err == nil {
			slots, err = cl.ClusterSlots(ctx).Result()
		}
		cl.Close()
		if err != nil {
			lastErr = err
			continue
		}
		for _, r := range slots {
			if int64(r.Start) <= slot && slot <= int64(r.End) && len(r.Nodes) > 0 {
				for _, n := range c.all() {
					if n.Addr == r.Nodes[0].Addr {
						return n, nil
					}
				}
				return nil, fmt.Errorf("slot %d is served by %s, which is none of ours", slot, r.Nodes[0].Addr)
			}
		}
		return nil, fmt.Errorf("slot %d is not served", slot)
	}
	return nil, fmt.Errorf("no node answers: %v", lastErr)
}

// idOf is s's cluster node id.
func idOf(ctx context.Context, s *Server) (string, error) {
	cl := s.Client()
	defer cl.Close()
	return cl.Do(ctx, "cluster", "myid").Text()
}

// masterOf is the node id of the master s replicates ("" for a master),
// from its own CLUSTER NODES line.
func masterOf(ctx context.Context, s *Server) (string, error) {
	cl := s.Client()
	defer cl.Close()
	nodes, err := cl.ClusterNodes(ctx).Result()
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(nodes, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && strings.Contains(f[2], "myself") {
			if f[3] == "-" {
				return "", nil
			}
			return f[3], nil
		}
	}
	return "", fmt.Errorf("no myself line in CLUSTER NODES of %s", s.Addr)
}
