package slack

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// historyCalls counts the conversations.history calls the fake received.
func historyCalls(e *env) int {
	n := 0
	for _, r := range e.fake.Requests() {
		if r.Method == "conversations.history" || r.Method == "conversations.replies" {
			n++
		}
	}
	return n
}

// Every post of an outbox message carries metadata naming it; a post
// whose earlier attempt may have been made is looked up first, and made
// when it is not found.
func TestUnsurePostNotFoundIsPosted(t *testing.T) {
	e := newEnv(t, nil)
	m := notify.Message{ID: "1764064800000-0", Key: "note:1", Channel: notify.Chat, Site: "harbour", Kind: "broadcast",
		Text: "note", MaybeSent: e.clk.Now()}
	if _, err := e.a.Notify(e.ctx(), m); err != nil {
		t.Fatal(err)
	}
	posts := postsTo(e.fake, "C0HARBOUR")
	if len(posts) != 1 || historyCalls(e) != 1 {
		t.Fatalf("%d posts after %d look-ups, want one post after one look-up", len(posts), historyCalls(e))
	}
	var md struct {
		EventType    string            `json:"event_type"`
		EventPayload map[string]string `json:"event_payload"`
	}
	if err := json.Unmarshal(posts[0].Metadata, &md); err != nil || md.EventType != MetadataType ||
		md.EventPayload["id"] != m.ID || md.EventPayload["namespace"] != e.cfg.Namespace || md.EventPayload["key"] != "note:1" {
		t.Fatalf("metadata %s (%v)", posts[0].Metadata, err)
	}
	// A sure post looks nothing up.
	m.ID, m.MaybeSent = "1764064800000-1", time.Time{}
	e.clk.Advance(time.Second)
	if _, err := e.a.Notify(e.ctx(), m); err != nil {
		t.Fatal(err)
	}
	if n := historyCalls(e); n != 1 {
		t.Fatalf("%d look-ups, want none for a sure post", n)
	}
}

// The drill of a replica killed mid-post, through the outbox: Slack makes
// the post but its answer never comes back (the attempt is cut off at its
// deadline, outcome unknown). The next attempt, here another replica's
// after the lease, finds the post by its metadata and does not post it
// again; the message leaves the outbox recorded sent.
func TestPostWithUnknownOutcomeIsNotPostedTwice(t *testing.T) {
	e := newEnv(t, nil)
	ctx := e.ctx()
	if _, err := e.st.Enqueue(ctx, store.OutMessage{Key: "note:1", Channel: notify.Chat, Site: "harbour", Kind: "broadcast", Text: "held note"}); err != nil {
		t.Fatal(err)
	}
	// A short lease: the send's deadline (three quarters of it) passes
	// while Slack holds the answer.
	d1 := notify.NewDelivererWith(notify.DelivererOptions{Store: e.st, Out: e.a, Clock: e.clk, Lease: 2 * time.Second, Consumer: "first"})
	var got []notify.Delivered
	d1.OnDeliver = func(d notify.Delivered) { got = append(got, d) }
	e.fake.HoldAnswers()
	if _, err := d1.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	e.fake.ReleaseAnswers()
	if len(got) != 1 || got[0].Outcome != notify.OutcomeRetry || !strings.Contains(got[0].Err.Error(), store.OutcomeUnknown) {
		t.Fatalf("first attempt: %+v; want a retry whose outcome is unknown", got)
	}
	if n := len(postsTo(e.fake, "C0HARBOUR")); n != 1 {
		t.Fatalf("%d posts after the first attempt, want the one Slack made", n)
	}

	// Another replica, its own adapter on the same Slack.
	a2, err := New(Options{Service: e.svc, Store: e.st, Config: e.cfg, BotToken: testBotToken, SigningSecret: testSecret,
		APIURL: e.slack.URL + "/api", Clock: e.clk, Logger: zaptest.NewLogger(t), HTTPClient: e.slack.Client()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a2.Close)
	d2 := notify.NewDelivererWith(notify.DelivererOptions{Store: e.st, Out: a2, Clock: e.clk, Lease: 2 * time.Second, Consumer: "second"})
	d2.OnDeliver = func(d notify.Delivered) { got = append(got, d) }
	e.clk.Advance(2 * time.Minute) // past the retry's backoff
	if _, err := d2.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Outcome != notify.OutcomeSent {
		t.Fatalf("second attempt: %+v; want it recorded sent", got)
	}
	if n := len(postsTo(e.fake, "C0HARBOUR")); n != 1 || historyCalls(e) != 1 {
		t.Fatalf("%d posts after %d look-ups; want the one post, found by one look-up", n, historyCalls(e))
	}
	if n, err := e.st.OutboxLen(ctx); err != nil || n != 0 {
		t.Fatalf("outbox holds %d (%v), want 0", n, err)
	}
}

// A step's notice that waits its turn in the DM's queue while the task is
// acknowledged is not posted: Notify answers notify.ErrStale.
func TestNoticeAcknowledgedWhileQueuedIsNotPosted(t *testing.T) {
	e := newEnv(t, nil)
	ctx := e.ctx()
	r := e.svc.Handle(ctx, commands.Request{Platform: commands.PlatformConsole, UserID: "jonah", Text: "/plan trigger medical-emergency @harbour Queue check"})
	if r.Error {
		t.Fatal(r.Text)
	}
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
		if p, ok := e.cfg.Person(x.Assignee); ok && p.Slack != "" {
			tk = x
			break
		}
	}
	if tk == nil {
		t.Fatal("no task assigned to someone on Slack")
	}
	p, _ := e.cfg.Person(tk.Assignee)
	dm := "D" + p.Slack
	// Something else takes the DM's slot; the notice waits a second on
	// the adapter's clock.
	if _, err := e.a.Notify(ctx, notify.Message{Channel: notify.Chat, To: tk.Assignee, Kind: "handover", Text: "You are on duty"}); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 1)
	notifyAsync(t, e, errs, notify.Message{ID: "1-0", Key: tk.ID() + ":0:chat", Channel: notify.Chat, To: tk.Assignee, Kind: "task",
		Ref: tk.ID(), Text: tk.ID() + " " + tk.Title}, func() bool { return e.clk.Waiters() > 0 })
	if _, err := e.st.AckTask(ctx, tk.Num, tk.Assignee, store.TaskActionAck, "by SMS"); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(2 * time.Second)
	if err := <-errs; !errors.Is(err, notify.ErrStale) {
		t.Fatalf("Notify = %v, want notify.ErrStale", err)
	}
	for _, post := range postsTo(e.fake, dm) {
		if strings.Contains(post.Text, tk.ID()) {
			t.Fatalf("the notice was posted after the ack: %+v", post)
		}
	}
	// The unanswered notice is not about an acknowledged task either;
	// other messages go out whatever the task's state.
	// (The notice took no turn: this one need not wait.)
	if _, err := e.a.Notify(ctx, notify.Message{Channel: notify.Chat, To: tk.Assignee, Kind: "unanswered", Ref: tk.ID(), Text: "UNANSWERED"}); !errors.Is(err, notify.ErrStale) {
		t.Fatalf("unanswered notice of an acknowledged task: %v, want notify.ErrStale", err)
	}
}

// An incident's update goes into its card's thread, which
// conversations.history does not list: an update sent again is looked up
// among the thread's replies, and not posted twice.
func TestUnsureThreadReplyIsFoundInTheThread(t *testing.T) {
	e := newEnv(t, nil)
	ctx := e.ctx()
	if r := e.svc.Handle(ctx, commands.Request{Platform: commands.PlatformConsole, UserID: "amara", Text: "/incident raise intrusion @harbour Fence cut"}); r.Error {
		t.Fatal(r.Text)
	}
	e.drain()
	if n := len(postsTo(e.fake, "C0HARBOUR")); n != 1 {
		t.Fatalf("%d posts for the incident, want its card", n)
	}
	e.clk.Advance(2 * time.Second)
	m := notify.Message{ID: "1764064800000-7", Key: "INC-1:update:1", Channel: notify.Chat, Site: "harbour", Kind: "update", Ref: "INC-1",
		Text: "Intruder seen near the warehouse"}
	if _, err := e.a.Notify(ctx, m); err != nil {
		t.Fatal(err)
	}
	m.MaybeSent = e.clk.Now()
	e.clk.Advance(2 * time.Second)
	if _, err := e.a.Notify(ctx, m); err != nil {
		t.Fatal(err)
	}
	posts := postsTo(e.fake, "C0HARBOUR")
	if len(posts) != 2 || posts[1].ThreadTS != posts[0].TS {
		t.Fatalf("%d posts in the channel; want the card and one reply in its thread", len(posts))
	}
	replies := 0
	for _, r := range e.fake.Requests() {
		if r.Method == "conversations.replies" {
			replies++
		}
	}
	if replies != 1 {
		t.Fatalf("%d conversations.replies look-ups, want 1", replies)
	}
}
