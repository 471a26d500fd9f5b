package configs_test

import (
	"strings"
	"testing"

	"github.com/muster-ops/muster/configs"
)

// A reload takes people, rosters and plans, and refuses, whole, a
// configuration that moves what only a restart applies.
func TestLiveReplace(t *testing.T) {
	old, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	live := configs.NewLive(old)
	next, _ := configs.Example()
	next.People = next.People[:len(next.People)-1]
	next.Plans = nil
	if err := live.Replace(next); err != nil || live.Current() != next {
		t.Fatalf("Replace with new people and plans: %v", err)
	}
	moved, _ := configs.Example()
	moved.Namespace = "elsewhere"
	moved.Server.Listen = "127.0.0.1:1"
	err = live.Replace(moved)
	if err == nil || live.Current() != next {
		t.Fatalf("Replace with a new namespace and listen address put it in force (err %v)", err)
	}
	for _, want := range []string{"namespace", "server", "restart"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not name %q", err, want)
		}
	}
	if p, ok := live.Person(next.People[0].ID); !ok || p.ID != next.People[0].ID {
		t.Errorf("Live.Person(%s) = %v %v", next.People[0].ID, p, ok)
	}
}
