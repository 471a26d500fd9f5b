package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/faketwilio"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

const (
	coordinator = "U0JONAH" // Jonah Reid, coordinator: may trigger every plan
	broadcast   = "CHAOS: every task escalates to the end."
	// policySteps is the chaos policy's step count; a task's last step
	// (index policySteps) marks it unanswered.
	policySteps = 3
	// lease is engine.lease in the chaos config (the deliverer's too).
	lease = 4 * time.Second
)

var (
	refRE        = regexp.MustCompile(`\bT-(\d+)\b`)
	activationRE = regexp.MustCompile(`\bA-(\d+)\b`)
)

// msgKey names a message by what it is about and where it goes: a task,
// its kind (task notice, unanswered, broadcast), the channel, and the
// recipient (a person id, or #site).
type msgKey struct {
	Ref, Kind, Channel, To string
}

// notice is the kind of every chat post about a task: Slack shows a
// task's card as it stands, so a step's notice and the unanswered notice
// look alike there.
const notice = "notice"

// norm merges the kinds of chat posts about a task.
func norm(k msgKey) msgKey {
	if k.Channel == "chat" && k.Kind != "broadcast" {
		k.Kind = notice
	}
	return k
}

func (k msgKey) String() string { return fmt.Sprintf("%s %s %s to %s", k.Ref, k.Kind, k.Channel, k.To) }

// One `make chaos` run: three replicas, two plans triggered, a replica
// killed mid-escalation and another mid-call-out, Redis killed and
// restarted on its append-only file, Twilio answering 429 and 500 and
// Slack rate limiting, and then every step exactly once, every message
// exactly once, and an intact audit chain.
func TestChaosReplicasRedisAndVendors(t *testing.T) {
	needChaos(t)
	began := time.Now()
	w := newWorld(t, 3)
	// The drill's own deadline starts once the binary is built and the
	// replicas run: a slow build on a busy machine is not the drill's.
	ctx, cancel := context.WithTimeout(context.Background(), 110*time.Second)
	defer cancel()
	r0, r1, r2 := w.replicas[0], w.replicas[1], w.replicas[2]
	cfg, err := configs.Load(r0.cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, store.Options{URL: w.url, Namespace: namespace})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t.Logf("setup (build, Redis, 3 replicas) %v", time.Since(began).Round(time.Millisecond))

	// The vendors fail and throttle from the start.
	w.tw.Fail(faketwilio.Failure{Resource: faketwilio.ResourceMessages, Status: 429, RetryAfter: time.Second, Times: 3})
	w.tw.Fail(faketwilio.Failure{Status: 500, Times: 2})
	w.tw.Fail(faketwilio.Failure{Resource: faketwilio.ResourceCalls, Status: 429, Times: 1})
	w.sl.RateLimitNext(2, time.Second)

	var activations []int64
	trigger := func(r *replica, site string) {
		t.Helper()
		// The replica has its records (else the trigger would take the
		// degraded path, which the outage tests cover).
		if !waitUntil(ctx, 15*time.Second, r.ready) {
			t.Fatalf("%s not ready", r.name)
		}
		reply, err := w.slash(r, coordinator, map[string]string{"harbour": "C0HARBOUR", "depot": "C0DEPOT"}[site],
			"/plan", "trigger chaos @"+site)
		if err != nil || !activationRE.MatchString(reply) {
			t.Fatalf("/plan trigger chaos @%s through %s: %s (%v)", site, r.name, reply, err)
		}
		m := activationRE.FindStringSubmatch(reply)
		var n int64
		fmt.Sscan(m[1], &n)
		activations = append(activations, n)
		t.Logf("+%v A-%d triggered @%s through %s", time.Since(began).Round(time.Millisecond), n, site, r.name)
	}
	escalated := func(minStep int) int {
		n := 0
		_ = st.ScanAudit(ctx, "", func(e store.AuditEvent) error {
			if e.Kind == "task.escalated" {
				var d struct{ Step int }
				if json.Unmarshal([]byte(e.Data), &d) == nil && d.Step >= minStep {
					n++
				}
			}
			return nil
		})
		return n
	}
	// quietKill holds the replica's doors, waits until none of its
	// requests is in flight at a vendor (a request the vendor accepted
	// but whose outcome is not recorded yet would be sent again: the
	// at-least-once window), and kills it with SIGKILL.
	quietKill := func(r *replica) {
		defer func() {
			w.kills = append(w.kills, fmt.Sprintf("%s killed at +%v", r.name, time.Since(began).Round(time.Millisecond)))
			w.killedAt = append(w.killedAt, time.Now())
		}()
		t.Helper()
		r.twilio.hold()
		r.slack.hold()
		if !waitUntil(ctx, 5*time.Second, func() bool { return r.twilio.flying() == 0 && r.slack.flying() == 0 }) {
			t.Fatalf("%s's requests never came back", r.name)
		}
		// Its last outcomes reach Redis.
		if !waitUntil(ctx, 5*time.Second, func() bool { return w.recorded(ctx, st, cfg) }) {
			t.Logf("%s: a request the vendors accepted has no recorded outcome after 5 s (%s); killing anyway", r.name, w.unrecorded(ctx, st, cfg))
		}
		heldTw, heldSl := r.twilio.held(), r.slack.held()
		r.kill9()
		t.Logf("+%v %s killed (SIGKILL); %d Twilio and %d Slack requests held at its door, never sent",
			time.Since(began).Round(time.Millisecond), r.name, heldTw, heldSl)
	}

	trigger(r0, "harbour")
	trigger(r1, "depot")

	// Mid-escalation: tasks are past their first step.
	if !waitUntil(ctx, 20*time.Second, func() bool { return escalated(2) >= 2 }) {
		t.Fatal("escalation did not reach step 2")
	}
	quietKill(r0)

	// Mid-call-out: r2's Twilio requests of a new plan are held at the
	// door (in flight for r2, unseen by Twilio) when it dies.
	r2.twilio.hold()
	trigger(r1, "harbour")
	hctx, hcancel := context.WithTimeout(ctx, 15*time.Second)
	err = r2.twilio.waitHeld(hctx, 1)
	hcancel()
	if err != nil {
		t.Fatalf("r2 sent nothing to Twilio: %v", err)
	}
	quietKill(r2)

	// r0 comes back, as a supervisor would restart it.
	r0.twilio.open()
	r0.slack.open()
	r0.start()
	t.Logf("+%v r0 restarted", time.Since(began).Round(time.Millisecond))
	// Redis restarts on its append-only file between sends: a send whose
	// outcome cannot be recorded is sent again once its lease ends (the
	// at-least-once window), so the kill waits for a moment with no
	// message taken for sending and nothing in flight at a vendor. First
	// the messages the killed replicas had taken come free (their leases
	// end), then a plan is triggered whose escalation runs across the
	// restart, and Redis dies once its first notices are out.
	quiet := func() {
		t.Helper()
		if !waitUntil(ctx, 20*time.Second, func() bool {
			return nothingTaken(ctx, st) &&
				r0.twilio.flying()+r0.slack.flying()+r1.twilio.flying()+r1.slack.flying() == 0
		}) {
			t.Fatal("no quiet moment for the Redis restart in 20 s")
		}
	}
	quiet()
	trigger(r0, "depot")
	if !waitUntil(ctx, 10*time.Second, func() bool { return escalated(1)-escalated(2) >= 3*len(activations) }) {
		t.Fatal("the last plan's first steps did not run")
	}
	// Every door holds, what is in flight lands and is recorded, and
	// Redis dies: a message taken meanwhile waits at a door, and is
	// refused (503, unseen by the vendor) after the restart, so it is
	// retried, never sent twice.
	for _, r := range w.replicas {
		r.twilio.hold()
		r.slack.hold()
	}
	if !waitUntil(ctx, 3*time.Second, func() bool {
		for _, r := range w.replicas {
			if r.twilio.flying()+r.slack.flying() > 0 {
				return false
			}
		}
		return w.recorded(ctx, st, cfg)
	}) {
		t.Logf("a request the vendors accepted has no recorded outcome after 3 s (%s); killing Redis anyway", w.unrecorded(ctx, st, cfg))
	}
	w.redis.kill()
	w.kills = append(w.kills, fmt.Sprintf("Redis killed at +%v", time.Since(began).Round(time.Millisecond)))
	t.Logf("+%v Redis killed (SIGKILL)", time.Since(began).Round(time.Millisecond))
	down := time.NewTimer(3 * time.Second) // the outage
	<-down.C
	w.redis.start()
	held := 0
	for _, r := range w.replicas {
		held += r.twilio.held() + r.slack.held()
		r.twilio.refuse()
		r.slack.refuse()
	}
	t.Logf("+%v Redis restarted on its AOF; %d requests held through the outage refused at the doors", time.Since(began).Round(time.Millisecond), held)
	w.tw.Fail(faketwilio.Failure{Resource: faketwilio.ResourceMessages, Status: 500, Times: 2})
	w.sl.RateLimitNext(1, time.Second)

	if n, err := st.PendingTimers(ctx); err != nil || n == 0 {
		t.Errorf("no escalation pending across the Redis restart (%d, %v)", n, err)
	} else {
		t.Logf("%d escalation deadlines survived the restart", n)
	}
	trigger(r1, "harbour")

	// Everything runs to its end: every task unanswered, the outbox empty.
	var tasks []*store.Task
	done := waitUntil(ctx, 60*time.Second, func() bool {
		tasks = tasks[:0]
		for _, a := range activations {
			act, err := st.Activation(ctx, a)
			if err != nil {
				return false
			}
			ts, err := st.Tasks(ctx, act.Tasks)
			if err != nil {
				return false
			}
			for _, tk := range ts {
				if tk.Status != store.TaskUnanswered {
					return false
				}
			}
			tasks = append(tasks, ts...)
		}
		n, err := st.OutboxLen(ctx)
		return err == nil && n == 0
	})
	if !done {
		t.Fatalf("escalation did not finish; logs in %s", w.dir)
	}
	// Let the last chat posts out (paced one a second per channel), and
	// any late duplicate arrive.
	expected := expectedMessages(t, ctx, st, cfg, tasks, activations)
	waitUntil(ctx, 20*time.Second, func() bool {
		got := sentMessages(t, w, cfg)
		for k, n := range expected {
			if got[k] < n {
				return false
			}
		}
		return true
	})
	settle := time.NewTimer(2 * time.Second)
	<-settle.C
	for _, r := range w.replicas {
		r.stop()
	}

	// Steps: each (task, step) exactly once in the audit log and the timeline.
	stepCount := map[string]int{}
	_ = st.ScanAudit(ctx, "", func(e store.AuditEvent) error {
		if e.Kind == "task.escalated" || e.Kind == "task.unanswered" {
			var d struct{ Step int }
			if err := json.Unmarshal([]byte(e.Data), &d); err != nil {
				t.Errorf("audit %s %s: %v", e.Kind, e.Data, err)
			}
			stepCount[fmt.Sprintf("%s step %d", e.Subject, d.Step)]++
		}
		return nil
	})
	stepsExpected, stepsHappened, stepsTwice, stepsMissing := 0, 0, 0, 0
	history, err := st.History(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range tasks {
		for s := 1; s <= policySteps+1; s++ {
			stepsExpected++
			switch n := stepCount[fmt.Sprintf("%s step %d", tk.ID(), s)]; {
			case n == 0:
				stepsMissing++
				t.Errorf("%s step %d never happened", tk.ID(), s)
			case n > 1:
				stepsTwice++
				t.Errorf("%s step %d happened %d times", tk.ID(), s, n)
			}
		}
		tl := store.RecordTimeline(tk.ID(), history)
		kinds := map[string]int{}
		for _, e := range tl {
			kinds[e.Kind]++
		}
		if kinds["step"] != policySteps || kinds["unanswered"] != 1 {
			t.Errorf("%s timeline: %d steps and %d unanswered, want %d and 1", tk.ID(), kinds["step"], kinds["unanswered"], policySteps)
		}
	}
	for _, n := range stepCount {
		stepsHappened += n
	}

	// Messages: what the fakes accepted against what the steps sent.
	got := sentMessages(t, w, cfg)
	msgsExpected, msgsSent, dups, lost, chatLost := 0, 0, 0, 0, 0
	keys := map[msgKey]bool{}
	for k := range expected {
		keys[k] = true
	}
	for k := range got {
		keys[k] = true
	}
	var sorted []msgKey
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].String() < sorted[j].String() })
	for _, k := range sorted {
		e, g := expected[k], got[k]
		msgsExpected += e
		msgsSent += g
		switch {
		case g > e:
			dups += g - e
			t.Errorf("sent twice: %v (%d sent, %d expected)\n%s", k, g, e, w.copies(cfg, k, began))
		case g < e && k.Channel == "chat" && w.recordedSentBeforeKill(ctx, t, st, k) >= e-g:
			// The outbox recorded the post sent, yet Slack never got it:
			// the Slack adapter reported a post delivered before Slack had
			// it, and a replica killed meanwhile lost it.
			chatLost += e - g
			t.Errorf("lost with a killed replica's Slack queue (recorded sent, never posted): %v (%d sent, %d expected)", k, g, e)
		case g < e:
			lost += e - g
			t.Errorf("lost: %v (%d sent, %d expected)\n%s", k, g, e, timelineOf(ctx, st, k.Ref, began))
		}
	}

	// The audit chain verifies, through the binary.
	out, err := exec.CommandContext(ctx, w.bin, "audit", "verify", "--config", r0.cfg, "--redis", w.url).CombinedOutput()
	if err != nil {
		t.Errorf("muster audit verify: %v\n%s", err, out)
	}
	fmt.Printf("chaos: %d activations, %d tasks; replicas killed mid-escalation and mid-call-out, Redis restarted on AOF; Twilio 429/500 and Slack 429 injected\n",
		len(activations), len(tasks))
	fmt.Printf("chaos: steps expected %d, happened %d (missing %d, twice %d)\n", stepsExpected, stepsHappened, stepsMissing, stepsTwice)
	fmt.Printf("chaos: messages expected %d, sent %d, lost %d, duplicates: %d\n", msgsExpected, msgsSent, lost+chatLost, dups)
	if chatLost > 0 {
		fmt.Printf("chaos: of the lost, %d chat posts were recorded sent before a killed replica's Slack adapter posted them\n", chatLost)
	}
	fmt.Printf("chaos: audit verify: %s", out)
	fmt.Printf("chaos: runtime %v\n", time.Since(began).Round(100*time.Millisecond))
}

// expectedMessages derives, from the audit log's step records, every
// message the steps must have sent, and the plans' broadcasts.
func expectedMessages(t *testing.T, ctx context.Context, st *store.Store, cfg *configs.Config, tasks []*store.Task, activations []int64) map[msgKey]int {
	t.Helper()
	site := map[string]string{}
	for _, tk := range tasks {
		site[tk.ID()] = tk.Site
	}
	out := map[msgKey]int{}
	err := st.ScanAudit(ctx, "", func(e store.AuditEvent) error {
		if _, ok := site[e.Subject]; !ok {
			return nil
		}
		switch e.Kind {
		case "task.escalated":
			var d struct {
				Notify []string
				To     string
			}
			if err := json.Unmarshal([]byte(e.Data), &d); err != nil {
				return err
			}
			if d.To == "" {
				out[norm(msgKey{e.Subject, "task", "chat", "#" + site[e.Subject]})]++
			}
			for _, ch := range d.Notify {
				if d.To != "" {
					out[norm(msgKey{e.Subject, "task", ch, d.To})]++
				}
			}
		case "task.unanswered":
			out[norm(msgKey{e.Subject, "unanswered", "chat", "#" + site[e.Subject]})]++
			for _, co := range cfg.Coordinators() {
				out[norm(msgKey{e.Subject, "unanswered", "chat", co.ID})]++
				out[msgKey{e.Subject, "unanswered", "sms", co.ID}]++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range activations {
		act, err := st.Activation(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		out[msgKey{"broadcast", "broadcast", "chat", "#" + act.Site}]++
	}
	return out
}

// sentMessages reads what the fake Twilio and the fake Slack accepted.
func sentMessages(t *testing.T, w *world, cfg *configs.Config) map[msgKey]int {
	out := map[msgKey]int{}
	kind := func(text string) string {
		if strings.Contains(text, "UNANSWERED") {
			return "unanswered"
		}
		return "task"
	}
	person := func(p *configs.Person, ok bool) string {
		if !ok {
			return "?"
		}
		return p.ID
	}
	for _, m := range w.tw.Messages() {
		out[msgKey{refRE.FindString(m.Body), kind(m.Body), "sms", person(cfg.PersonByPhone(m.To))}]++
	}
	for _, c := range w.tw.Calls() {
		ref := ""
		if u, err := url.Parse(c.URL); err == nil {
			ref = u.Query().Get("task")
		}
		out[msgKey{ref, "task", "voice", person(cfg.PersonByPhone(c.To))}]++
	}
	sites := map[string]string{}
	for _, s := range cfg.Sites {
		sites[s.Channels.Slack] = "#" + s.ID
	}
	for _, p := range w.sl.Posts() {
		if p.Method != "chat.postMessage" {
			continue
		}
		to := sites[p.Channel]
		if to == "" {
			to = person(cfg.PersonBySlack(strings.TrimPrefix(p.Channel, "D")))
		}
		if strings.Contains(p.Text, broadcast) {
			out[msgKey{"broadcast", "broadcast", "chat", to}]++
			continue
		}
		out[norm(msgKey{refRE.FindString(p.Text), kind(p.Text), "chat", to})]++
	}
	return out
}

// copies lists which replica passed each copy of a message to Twilio,
// and when, beside the kills: the cause of a duplicate.
func (w *world) copies(cfg *configs.Config, k msgKey, began time.Time) string {
	var b strings.Builder
	for _, r := range w.replicas {
		for _, s := range r.twilio.log() {
			p, ok := cfg.PersonByPhone(s.Form.Get("To"))
			if !ok || p.ID != k.To || s.Status >= 300 {
				continue
			}
			body, u := s.Form.Get("Body"), s.Form.Get("Url")
			if !strings.Contains(body, k.Ref+" ") && !strings.HasSuffix(u, "task="+k.Ref) {
				continue
			}
			fmt.Fprintf(&b, "  copy from %s at +%v: %s HTTP %d\n", r.name, s.At.Sub(began).Round(time.Millisecond), s.Path, s.Status)
		}
	}
	fmt.Fprintf(&b, "  %s", strings.Join(w.kills, "; "))
	return b.String()
}

// recordedSentBeforeKill counts the times the task's timeline says the
// chat message k was sent before a replica was killed: the outbox's
// record of a post that the Slack adapter had only queued in memory.
func (w *world) recordedSentBeforeKill(ctx context.Context, t *testing.T, st *store.Store, k msgKey) int {
	var num int64
	if _, err := fmt.Sscanf(k.Ref, "T-%d", &num); err != nil || len(w.killedAt) == 0 {
		return 0
	}
	tl, err := st.TaskTimeline(ctx, num)
	if err != nil {
		t.Fatal(err)
	}
	last := w.killedAt[len(w.killedAt)-1]
	n := 0
	for _, e := range tl {
		if e.Kind == "sent" && e.Text == "chat to "+k.To && !e.At.After(last) {
			n++
		}
	}
	return n
}

// recorded reports whether every message a vendor accepted through the
// doors has its outcome recorded. A replica or Redis killed before that
// would have the message sent again when its lease ends: Twilio and
// Slack take no idempotency key, so that window is at least once, and
// the kills wait for it to close.
func (w *world) recorded(ctx context.Context, st *store.Store, cfg *configs.Config) bool {
	return w.unrecorded(ctx, st, cfg) == ""
}

// unrecorded names a message still taken for sending (its outcome not
// recorded) that a vendor already accepted through a door since it was
// taken; "" when there is none.
func (w *world) unrecorded(ctx context.Context, st *store.Store, cfg *configs.Config) string {
	lanes, err := st.OutboxLanes(ctx)
	if err != nil {
		return err.Error()
	}
	rdb := st.Client()
	for _, l := range lanes {
		ids, err := rdb.ZRangeWithScores(ctx, st.Key("outbox", "lane", l), 0, -1).Result()
		if err != nil {
			return err.Error()
		}
		for _, z := range ids {
			id := fmt.Sprint(z.Member)
			m, err := rdb.HGetAll(ctx, st.Key("outbox", "m", id)).Result()
			if err != nil {
				return err.Error()
			}
			if m["claim"] == "" {
				continue
			}
			taken := time.UnixMilli(int64(z.Score)).Add(-lease)
			if w.accepted(cfg, m, taken) {
				return fmt.Sprintf("%s (%s to %s%s) accepted, still taken", m["key"], m["channel"], m["to"], m["site"])
			}
		}
	}
	return ""
}

// accepted reports whether a door passed a request for the outbox
// message m (its hash) that the vendor accepted, since taken.
func (w *world) accepted(cfg *configs.Config, m map[string]string, taken time.Time) bool {
	p, _ := cfg.Person(m["to"])
	for _, r := range w.replicas {
		var log []sent
		switch m["channel"] {
		case "sms", "voice":
			log = r.twilio.log()
		default:
			log = r.slack.log()
		}
		for _, s := range log {
			if s.Status >= 300 || s.At.Before(taken) {
				continue
			}
			switch m["channel"] {
			case "sms":
				if p != nil && strings.HasSuffix(s.Path, "/Messages.json") && s.Form.Get("To") == p.Phone && s.Form.Get("Body") == notify.SMSText(m["text"]) {
					return true
				}
			case "voice":
				u, err := url.Parse(s.Form.Get("Url"))
				if p != nil && err == nil && strings.HasSuffix(s.Path, "/Calls.json") && s.Form.Get("To") == p.Phone &&
					u.Query().Get("task") == m["ref"] {
					return true
				}
			default:
				if !strings.HasSuffix(s.Path, "chat.postMessage") {
					continue
				}
				ch := ""
				if site, ok := cfg.Site(m["site"]); ok && m["site"] != "" {
					ch = site.Channels.Slack
				} else if p != nil {
					ch = "D" + p.Slack
				}
				if s.Form.Get("channel") == ch && (m["ref"] == "" || strings.Contains(s.Form.Get("text"), m["ref"])) {
					return true
				}
			}
		}
	}
	return false
}

// nothingTaken reports whether no outbox message is taken for sending
// now (messages waiting in their lanes, untaken, are safe across a Redis
// restart; a taken one may be sent without its outcome being recorded).
// It reads the lanes' message hashes directly.
func nothingTaken(ctx context.Context, st *store.Store) bool {
	lanes, err := st.OutboxLanes(ctx)
	if err != nil {
		return false
	}
	rdb := st.Client()
	for _, l := range lanes {
		ids, err := rdb.ZRange(ctx, st.Key("outbox", "lane", l), 0, -1).Result()
		if err != nil {
			return false
		}
		for _, id := range ids {
			claim, err := rdb.HGet(ctx, st.Key("outbox", "m", id), "claim").Result()
			if err == nil && claim != "" {
				return false
			}
		}
	}
	return true
}

// timelineOf renders a task's timeline, for a failure's message.
func timelineOf(ctx context.Context, st *store.Store, ref string, began time.Time) string {
	var num int64
	if _, err := fmt.Sscanf(ref, "T-%d", &num); err != nil {
		return ""
	}
	tl, err := st.TaskTimeline(ctx, num)
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, e := range tl {
		fmt.Fprintf(&b, "  +%v %s %s %s\n", e.At.Sub(began).Round(time.Millisecond), e.Actor, e.Kind, e.Text)
	}
	return b.String()
}
