package chaos

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/store"
)

// Replicas are killed with chat posts in flight: Slack has made each
// post, and the replica dies before Slack's answer reaches it (the
// replica's door to the fake Slack holds the answers, so every kill lands
// inside that window, by construction, not by luck). Slack takes no
// idempotency key; the replica that takes the messages over after the
// lease must find each post by the metadata it carries and not post it
// again. The drill fails on any message sent twice or lost.
//
// Two rounds: a replica runs alone (the other stopped), a plan is
// triggered through it, and it is killed once two of its posts are in
// flight; the other replica starts and finishes the work. Twilio requests
// of the victim wait at its door and die with it (never sent).
func TestChaosChatInFlight(t *testing.T) {
	needChaos(t)
	began := time.Now()
	w := newWorld(t, 2)
	// The drill's deadline starts once the binary is built and the
	// replicas run.
	ctx, cancel := context.WithTimeout(context.Background(), 110*time.Second)
	defer cancel()
	cfg, err := configs.Load(w.replicas[0].cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, store.Options{URL: w.url, Namespace: namespace})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := func() string { return fmt.Sprintf("+%v", time.Since(began).Round(time.Millisecond)) }

	var acts []int64
	inFlight := 0
	round := func(victim, other *replica, site string) {
		t.Helper()
		other.stop()
		victim.slack.holdAnswers(func(path string) bool { return strings.HasSuffix(path, "/chat.postMessage") })
		victim.twilio.hold()
		acts = append(acts, w.trigger(ctx, victim, "chaos", site))
		hctx, hcancel := context.WithTimeout(ctx, 15*time.Second)
		err := victim.slack.waitAnswers(hctx, 2)
		hcancel()
		if err != nil {
			t.Fatalf("%s: no two posts in flight: %v", victim.name, err)
		}
		victim.kill9()
		// The door learns of the death from each held request's context.
		if !waitUntil(ctx, 5*time.Second, func() bool { return victim.slack.answersHeld() == 0 }) {
			t.Fatalf("%s's held answers never noticed its death", victim.name)
		}
		lost := len(victim.slack.answersLost())
		t.Logf("%s %s killed (SIGKILL) with %d chat posts made by Slack and unanswered", at(), victim.name, lost)
		inFlight += lost
		victim.slack.releaseAnswers()
		victim.twilio.open()
		other.start()
		t.Logf("%s %s started", at(), other.name)
	}
	round(w.replicas[0], w.replicas[1], "harbour")
	round(w.replicas[1], w.replicas[0], "depot")

	tasks, ok := settle(ctx, st, acts, 60*time.Second)
	if !ok {
		t.Fatalf("escalation did not run to its end; logs in %s", w.dir)
	}
	msgs := w.count(ctx, st, cfg, tasks, acts)
	for _, p := range msgs.problems {
		t.Error(p)
	}
	found := 0
	for _, r := range w.replicas {
		b, _ := os.ReadFile(r.logs)
		found += strings.Count(string(b), "slack had the post already")
	}
	chat := 0
	for _, p := range w.sl.Posts() {
		if p.Method == "chat.postMessage" {
			chat++
		}
	}
	fmt.Printf("chaos in flight: 2 replicas killed, %d chat posts in flight at the kills (made by Slack, the answer never received); %d found by look-up and not posted again\n",
		inFlight, found)
	fmt.Printf("chaos in flight: %d tasks; %s; %d chat posts at Slack\n", len(tasks), msgs, chat)
	fmt.Printf("chaos in flight: runtime %v\n", time.Since(began).Round(100*time.Millisecond))
	if inFlight == 0 {
		t.Error("no post was in flight at a kill: the drill tested nothing")
	}
}
