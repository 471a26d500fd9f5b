package redistest_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/muster-ops/muster/internal/redistest"
	"github.com/muster-ops/muster/store"
)

// The cluster serves every slot from three masters, store.NewClient
// reaches it from the URL, and Redis refuses a script that touches a key
// outside its slot: that refusal is what makes the store suites on the
// Cluster a check that every script stays in its namespace's slot.
func TestClusterServesAndRefusesCrossSlotScripts(t *testing.T) {
	c := redistest.StartCluster(t)
	rdb, err := store.NewClient(c.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if _, ok := rdb.(*redis.ClusterClient); !ok {
		t.Fatalf("store.NewClient(%q) = %T, want a cluster client", c.URL, rdb)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Keys spread over all three masters.
	masters := map[string]bool{}
	for i := 0; len(masters) < 3 && i < 200; i++ {
		k := "k" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		if err := rdb.Set(ctx, k, "v", time.Minute).Err(); err != nil {
			t.Fatalf("set %s: %v", k, err)
		}
		masters[c.Master(t, k).Addr] = true
	}
	if len(masters) != 3 {
		t.Fatalf("keys landed on %d masters, want 3", len(masters))
	}

	// Same hash tag: fine, even for a key the script builds itself.
	same := redis.NewScript(`redis.call('SET', KEYS[1] .. 'a', 1) return redis.call('INCR', KEYS[1] .. 'b')`)
	if err := same.Run(ctx, rdb, []string{"muster:{ns1}:"}).Err(); err != nil {
		t.Fatalf("single-slot script: %v", err)
	}
	// A key built outside the tag, on another master: refused. (Redis
	// 7.0 lets a script reach an undeclared key of another slot on the
	// same node, so the suites also check where keys landed.)
	other := ""
	for i := 0; other == ""; i++ {
		k := "muster:{other" + strconv.Itoa(i) + "}:x"
		if c.Master(t, k) != c.Master(t, "muster:{ns1}:") {
			other = k
		}
	}
	cross := redis.NewScript(`redis.call('SET', KEYS[1] .. 'a', 1) return redis.call('SET', ARGV[1], 1)`)
	err = cross.Run(ctx, rdb, []string{"muster:{ns1}:"}, other).Err()
	if err == nil || !(strings.Contains(err.Error(), "slot") || strings.Contains(err.Error(), "non local")) {
		t.Fatalf("cross-slot script: err = %v, want a slot error", err)
	}
}

// The Sentinel URL reaches the primary, and after SENTINEL FAILOVER the
// same client writes to the promoted replica, which holds what was
// written before.
func TestSentinelFailoverKeepsData(t *testing.T) {
	s := redistest.StartSentinel(t, redistest.SentinelOptions{MinReplicas: 1})
	rdb, err := store.NewClient(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rdb.Set(ctx, "before", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// Wait until the replica has it (the write was acknowledged by the
	// primary alone; WAIT makes the replica's copy certain).
	if n, err := rdb.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT 1: %d, %v", n, err)
	}
	t0 := time.Now()
	np, err := s.Failover(ctx)
	t.Logf("failover took %v", time.Since(t0))
	if err != nil {
		t.Fatal(err)
	}
	if np.Addr != s.Replica.Addr {
		t.Fatalf("promoted %s, want the replica %s", np.Addr, s.Replica.Addr)
	}
	if err := pollUntil(ctx, func() bool { return rdb.Set(ctx, "after", "2", 0).Err() == nil }); err != nil {
		t.Fatalf("no write succeeded after the failover: %v", err)
	}
	t.Logf("first write after %v", time.Since(t0))
	cl := np.Client()
	defer cl.Close()
	for _, k := range []string{"before", "after"} {
		if v, err := cl.Get(ctx, k).Result(); err != nil {
			t.Errorf("new primary: GET %s: %v", k, err)
		} else if v == "" {
			t.Errorf("new primary: %s is empty", k)
		}
	}
}

// pollUntil retries f every 50ms until it returns true or ctx ends.
func pollUntil(ctx context.Context, f func() bool) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !f() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}
