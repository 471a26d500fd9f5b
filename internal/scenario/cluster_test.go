package scenario_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/internal/redistest"
	"github.com/muster-ops/muster/internal/storetest"
)

// The suite on a 3-master Redis Cluster, reached through the same
// URL-based client as production. Every scenario runs once in a namespace
// on each master, so every node runs every script. Redis refuses a script
// that reaches a key on another node; what it does not refuse (a key of
// another slot on the same node) the check below catches: every key a
// scenario leaves must carry its namespace's hash tag and live on that
// tag's master. After the scenarios, DeleteAll must have left no key on
// any node.
func TestClusterSuite(t *testing.T) {
	c := redistest.StartCluster(t)
	storetest.WithURL(t, c.URL)
	for i, node := range c.Nodes {
		t.Run("master"+strconv.Itoa(i), func(t *testing.T) {
			runSuite(t, suiteTarget{
				ns: func(t *testing.T) string { return namespaceOn(t, c, node) },
				check: func(t *testing.T, ns string) {
					checkKeysInSlot(t, c, node, ns)
				},
			})
		})
	}
	if left := c.Keys(t, "*"); len(left) > 0 {
		t.Errorf("keys left on the cluster after every namespace was deleted: %v", left)
	}
}

// namespaceOn returns a fresh test namespace whose keys live on node.
func namespaceOn(t *testing.T, c *redistest.Cluster, node *redistest.Server) string {
	t.Helper()
	for i := 0; i < 1000; i++ {
		ns := storetest.Namespace()
		if c.Master(t, "muster:{"+ns+"}:") == node {
			return ns
		}
	}
	t.Fatalf("no namespace on %s after 1000 tries", node.Addr)
	return ""
}

// checkKeysInSlot fails unless every key on the cluster that belongs to
// no other running test is under muster:{ns}: on node.
func checkKeysInSlot(t *testing.T, c *redistest.Cluster, node *redistest.Server, ns string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	prefix := "muster:{" + ns + "}:"
	total := 0
	for _, s := range c.Nodes {
		cl := s.Client()
		keys, err := cl.Keys(ctx, "*").Result()
		cl.Close()
		if err != nil {
			t.Fatalf("keys on %s: %v", s.Addr, err)
		}
		for _, k := range keys {
			if !strings.HasPrefix(k, prefix) {
				t.Errorf("key %q on %s is outside the namespace's hash tag %s", k, s.Addr, prefix)
				continue
			}
			if s != node {
				t.Errorf("key %q is on %s, not on its slot's master %s", k, s.Addr, node.Addr)
			}
			total++
		}
	}
	if total == 0 {
		t.Errorf("no keys under %s: the scenario wrote nothing?", prefix)
	}
}

// commandAs is a console request from person.
func commandAs(person, line string) commands.Request {
	return commands.Request{Platform: commands.PlatformConsole, UserID: person, Text: line}
}
