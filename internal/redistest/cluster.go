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

// Cluster is a running Redis Cluster of masters only (no replicas).
type Cluster struct {
	// Nodes are the masters; Nodes[i] serves slots [i*16384/n, (i+1)*16384/n).
	Nodes []*Server
	// URL reaches the cluster through store.NewClient:
	// redis://first?addr=second&addr=third.
	URL string
}

// StartCluster starts a 3-master Redis Cluster on loopback and returns
// once every node agrees that all 16384 slots are served.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	const n = 3
	c := &Cluster{}
	var bus0 int // node 0's bus port, for CLUSTER MEET
	for i := 0; i < n; i++ {
		c.Nodes = append(c.Nodes, start(t, "cluster-"+strconv.Itoa(i), func(port int) []string {
			// The bus port defaults to port+10000, which may be taken or
			// beyond 65535: pick a free one too (cluster-port, Redis 7).
			bus, err := freePort()
			if err != nil {
				t.Fatalf("redistest: free port: %v", err)
			}
			if i == 0 {
				bus0 = bus
			}
			return []string{
				"cluster-port " + strconv.Itoa(bus),
				"cluster-enabled yes",
				"cluster-config-file nodes.conf",
				// A short timeout only matters for failure detection,
				// which these tests do not exercise; keep it small anyway.
				"cluster-node-timeout 2000",
				"cluster-require-full-coverage yes",
			}
		}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	// Assign each node its third of the slots, then introduce them.
	for i, s := range c.Nodes {
		cl := s.Client()
		from, to := i*clusterSlots/n, (i+1)*clusterSlots/n
		slots := make([]int, 0, to-from)
		for k := from; k < to; k++ {
			slots = append(slots, k)
		}
		err := cl.ClusterAddSlots(ctx, slots...).Err()
		if err == nil && i > 0 {
			host, port := splitAddr(t, c.Nodes[0].Addr)
			err = cl.Do(ctx, "cluster", "meet", host, port, bus0).Err()
		}
		cl.Close()
		if err != nil {
			t.Fatalf("redistest: cluster set-up on %s: %v", s.Addr, err)
		}
	}
	for _, s := range c.Nodes {
		if err := waitClusterOK(s, n); err != nil {
			t.Fatalf("redistest: cluster node %s: %v\n%s", s.Addr, err, s.tail())
		}
	}
	q := url.Values{}
	for _, s := range c.Nodes[1:] {
		q.Add("addr", s.Addr)
	}
	c.URL = "redis://" + c.Nodes[0].Addr + "?" + q.Encode()
	return c
}

// waitClusterOK waits until the node reports the cluster healthy, knows
// every node, and maps every slot to a master.
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
		return len(masters) == n, nil
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
