package discord_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// A post sent again (its first answer lost: the process died, or the
// request timed out after Discord had it) carries the same nonce with
// enforce_nonce, and Discord answers the first message instead of
// creating a second. Another outbox message gets another nonce; a message
// sent outside the outbox (degraded mode) carries none.
func TestPostSentAgainIsCreatedOnce(t *testing.T) {
	e := newEnv(t, envOptions{})
	m := notify.Message{ID: "1764064800000-0", Key: "note:1", Channel: notify.Chat, Site: "harbour", Kind: "broadcast", Text: "Gate 3 closed"}
	for range 2 {
		if retry, err := e.adapter.Notify(e.ctx(), m); err != nil || retry {
			t.Fatalf("Notify = %v, %v", retry, err)
		}
	}
	if n := len(e.posts()); n != 1 {
		t.Fatalf("%d messages created for one outbox message, want 1", n)
	}
	var sent struct {
		Nonce   string `json:"nonce"`
		Enforce bool   `json:"enforce_nonce"`
	}
	if err := json.Unmarshal(e.posts()[0].Payload, &sent); err != nil || sent.Nonce == "" || len(sent.Nonce) > 25 || !sent.Enforce {
		t.Fatalf("payload %s: want a nonce of at most 25 characters with enforce_nonce", e.posts()[0].Payload)
	}
	m.ID = "1764064800000-1"
	if _, err := e.adapter.Notify(e.ctx(), m); err != nil {
		t.Fatal(err)
	}
	m.ID = ""
	if _, err := e.adapter.Notify(e.ctx(), m); err != nil {
		t.Fatal(err)
	}
	posts := e.posts()
	if len(posts) != 3 {
		t.Fatalf("%d messages, want 3", len(posts))
	}
	if strings.Contains(string(posts[2].Payload), "nonce") {
		t.Fatalf("a message outside the outbox carries a nonce: %s", posts[2].Payload)
	}
}

// A task's notice whose task is acknowledged before it is posted is not
// posted: notify.ErrStale.
func TestNoticeOfAcknowledgedTaskIsNotPosted(t *testing.T) {
	e := newEnv(t, envOptions{})
	if r := e.console("jonah", "/plan trigger medical-emergency @harbour Nonce check"); r.Error {
		t.Fatal(r.Text)
	}
	ctx := e.ctx()
	acts, err := e.st.ActiveActivations(ctx)
	if err != nil || len(acts) != 1 {
		t.Fatalf("activations %v, %v", acts, err)
	}
	tasks, err := e.st.Tasks(ctx, acts[0].Tasks)
	if err != nil {
		t.Fatal(err)
	}
	var tk *store.Task
	for _, x := range tasks {
		if p, ok := e.cfg.Person(x.Assignee); ok && p.Discord != "" {
			tk = x
			break
		}
	}
	if tk == nil {
		t.Fatal("no task assigned to someone on Discord")
	}
	if _, err := e.st.AckTask(ctx, tk.Num, tk.Assignee, store.TaskActionAck, "by SMS"); err != nil {
		t.Fatal(err)
	}
	before := len(e.posts())
	retry, err := e.adapter.Notify(ctx, notify.Message{ID: "1-0", Key: tk.ID() + ":0:chat", Channel: notify.Chat, To: tk.Assignee,
		Kind: "task", Ref: tk.ID(), Text: tk.ID() + " " + tk.Title})
	if !errors.Is(err, notify.ErrStale) || retry {
		t.Fatalf("Notify = %v, %v; want notify.ErrStale", retry, err)
	}
	if n := len(e.posts()); n != before {
		t.Fatalf("%d messages posted for the acknowledged task", n-before)
	}
}
