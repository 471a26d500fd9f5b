package benchreport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/muster-ops/muster/internal/fakeslack"
	"github.com/muster-ops/muster/internal/faketwilio"
	"github.com/muster-ops/muster/store"
)

// The fake vendors' credentials and the audit key of the live runs.
const (
	liveBotToken   = "xoxb-bench"
	liveSecret     = "bench-signing-secret"
	liveTwilioSID  = "AC00000000000000000000000000000000"
	liveTwilioAuth = "0123456789abcdef0123456789abcdef"
	// liveAuditKey is a fixed Ed25519 seed, so the sealer signs as in
	// production.
	liveAuditKey = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
)

// LiveOptions configures the measurements through the real binary.
type LiveOptions struct {
	// Bin is muster's binary; RedisURL the Redis it and the harness use;
	// Dir a scratch directory.
	Bin, RedisURL, Dir string
	// Deadlines due within Spread make the burst (100,000 within 20 s).
	Deadlines int
	Spread    time.Duration
	// Responders is the call-out's size (1,000); TwilioLatency how long
	// the fake Twilio takes to answer each request (50 ms).
	Responders    int
	TwilioLatency time.Duration
	// TwilioRate is twilio.rate, SMS a second (LiveRate when 0).
	TwilioRate float64
	// LoadRate commands a second for LoadFor (200/s for 5 minutes).
	LoadRate float64
	LoadFor  time.Duration
	// CapacityRates are tried in order, each for CapacityFor, until one
	// misses the command goal.
	CapacityRates []float64
	CapacityFor   time.Duration
	// Skip names parts to leave out: "burst", "callout", "memory",
	// "load", "capacity".
	Skip map[string]bool
	Logf func(string, ...any)
}

// Live is what the measurements through the binary found.
type Live struct {
	Burst    *BurstResult
	Callout  *CalloutResult
	Memory   *TaskMemory
	Load     *LoadResult
	Capacity []LoadResult
}

// BurstResult is the burst of deadlines.
type BurstResult struct {
	Deadlines int
	Spread    time.Duration
	// Steps counts the steps recorded (task.escalated events of the
	// loaded tasks); Late their lateness from each deadline to the step's
	// audit event's stream id (Redis's own clock when it was written).
	Steps         int
	P50, P99, Max time.Duration
	Early         int
	StepsWindow   time.Duration // the first deadline to the last step recorded
	DrainWindow   time.Duration // the first deadline to every SMS sent and every event sealed
	Steady        RedisUse      // over StepsWindow
	All           RedisUse      // over DrainWindow
	SMS           int           // SMS the fake Twilio accepted
	SMSAtSteps    int           // of which by the end of StepsWindow
	LoadTook      time.Duration
	ServeLog      LogSummary
	Err           error
}

// Split parts Redis's CPU into what a step costs and what sending its
// message costs: over the steps the CPU went to all the steps and the
// SMS sent by then, until drained to all steps and all SMS, which gives
// two equations for the two unknowns (the sealer's work rides on both).
func (r *BurstResult) Split() (step, msg time.Duration) {
	if r.SMS <= r.SMSAtSteps || r.Steps == 0 {
		return 0, 0
	}
	msg = (r.All.CPU - r.Steady.CPU) / time.Duration(r.SMS-r.SMSAtSteps)
	step = (r.Steady.CPU - time.Duration(r.SMSAtSteps)*msg) / time.Duration(r.Steps)
	return step, msg
}

// CalloutResult is the 1,000-responder call-out.
type CalloutResult struct {
	Responders int
	// Reply is the trigger command's answer time; First and Last the
	// first and last SMS's arrival at the fake Twilio, from the command's
	// send.
	Reply, First, Last time.Duration
	Redis              RedisUse // until every SMS was sent and the chain sealed
	Err                error
}

// TaskMemory is Redis's memory per open task as a trigger leaves it.
type TaskMemory struct {
	Tasks int
	Bytes int64 // used_memory's growth
	Err   error
}

// PerStep divides a duration by steps.
func PerStep(d time.Duration, steps int) time.Duration {
	if steps <= 0 {
		return 0
	}
	return d / time.Duration(steps)
}

// liveProc is one muster serve with its fakes and namespace.
type liveProc struct {
	namespace string
	serve     *Serve
	st        *store.Store
	slack     *fakeslack.Server
	twilio    *faketwilio.Server
	sms       *smsCounter
	client    *SlackClient
	stop      func()
}

// startLive starts muster serve in a fresh namespace with the call-out's
// configuration (o.Responders, Twilio at o.TwilioRate or LiveRate).
func startLive(ctx context.Context, o LiveOptions, logf func(string, ...any)) (*liveProc, error) {
	rate := o.TwilioRate
	if rate == 0 {
		rate = LiveRate
	}
	return startLiveWith(ctx, o, logf, func(ns, slackAPI, twilioAPI string) (string, error) {
		return writeLiveConfig(o.Dir, ns, slackAPI, twilioAPI, o.Responders, rate)
	})
}

// startLiveWith starts the fake Slack and Twilio (answering in
// o.TwilioLatency), writes the configuration with config for a fresh
// namespace and the fakes' API URLs, and starts muster serve on it with
// the fakes' credentials and the audit key. stop ends it all and removes
// the namespace.
func startLiveWith(ctx context.Context, o LiveOptions, logf func(string, ...any), config func(namespace, slackAPI, twilioAPI string) (string, error)) (*liveProc, error) {
	ns := NewNamespace()
	fs := fakeslack.New(liveBotToken)
	slackSrv := httptest.NewServer(fs)
	ft := faketwilio.New(liveTwilioSID, liveTwilioAuth)
	ft.SetLatency(o.TwilioLatency)
	counter := &smsCounter{next: ft}
	twilioSrv := httptest.NewServer(counter)
	closeFakes := func() { slackSrv.Close(); ft.Close(); twilioSrv.Close() }
	cfg, err := config(ns, slackSrv.URL+"/api/", twilioSrv.URL)
	if err != nil {
		closeFakes()
		return nil, err
	}
	st, err := store.Open(ctx, store.Options{URL: o.RedisURL, Namespace: ns})
	if err != nil {
		closeFakes()
		return nil, fmt.Errorf("open namespace %s: %w", ns, err)
	}
	s, err := StartServe(ctx, ServeOptions{Bin: o.Bin, Config: cfg, RedisURL: o.RedisURL, SlackBotToken: liveBotToken,
		SlackSigningSecret: liveSecret, LogPath: filepath.Join(o.Dir, ns+".log"),
		Env: []string{"TWILIO_ACCOUNT_SID=" + liveTwilioSID, "TWILIO_AUTH_TOKEN=" + liveTwilioAuth, "MUSTER_AUDIT_KEY=" + liveAuditKey}})
	if err != nil {
		_ = st.Close()
		closeFakes()
		return nil, err
	}
	p := &liveProc{namespace: ns, serve: s, st: st, slack: fs, twilio: ft, sms: counter,
		client: &SlackClient{URL: s.URL, Secret: liveSecret, ResponseURL: func() string { return fs.ResponseURL(slackSrv.URL) }}}
	p.stop = func() {
		s.Stop()
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := st.DeleteAll(cctx); err != nil {
			logf("remove namespace %s: %v", ns, err)
		}
		_ = st.Close()
		closeFakes()
	}
	return p, nil
}

// RunLive runs the measurements through the binary that o doesn't skip.
func RunLive(ctx context.Context, o LiveOptions) *Live {
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	out := &Live{}
	failed := func(what string, err error) {
		if err != nil {
			logf("%s: %v", what, err)
		}
	}
	if !o.Skip["burst"] {
		out.Burst = runBurst(ctx, o, logf)
		failed("burst", out.Burst.Err)
	}
	if !o.Skip["callout"] {
		out.Callout = runCallout(ctx, o, logf)
		failed("call-out", out.Callout.Err)
	}
	if !o.Skip["memory"] {
		out.Memory = runTaskMemory(ctx, o, logf)
		failed("memory", out.Memory.Err)
	}
	if !o.Skip["load"] {
		r := runLoad(ctx, o, o.LoadRate, o.LoadFor, logf)
		failed("load", r.Err)
		out.Load = &r
	}
	if !o.Skip["capacity"] {
		for _, rate := range o.CapacityRates {
			r := runLoad(ctx, o, rate, o.CapacityFor, logf)
			failed("capacity", r.Err)
			out.Capacity = append(out.Capacity, r)
			if !r.Met(time.Duration(GoalCommandP99Ms * float64(time.Millisecond))) {
				break
			}
		}
	}
	return out
}

// runBurst loads Deadlines open tasks whose first deadlines fall due at
// random within Spread and lets muster serve (engine, outbox, sealer)
// run them: each step sends its responder an SMS.
func runBurst(ctx context.Context, o LiveOptions, logf func(string, ...any)) *BurstResult {
	res := &BurstResult{Deadlines: o.Deadlines, Spread: o.Spread}
	p, err := startLive(ctx, o, logf)
	if err != nil {
		res.Err = err
		return res
	}
	defer p.stop()
	rdb := p.st.Client()
	const lead = 10 * time.Second
	start := time.Now().Add(lead).Truncate(time.Millisecond)
	due := make([]int64, o.Deadlines+1)
	for i := 1; i <= o.Deadlines; i++ {
		due[i] = start.Add(time.Duration(rand.Int64N(int64(o.Spread)))).UnixMilli()
	}
	logf("burst: loading %d open tasks due within %s from %s", o.Deadlines, o.Spread, start.Format("15:04:05.000"))
	took, err := loadBurst(ctx, p.st, o.Responders, due)
	res.LoadTook = took
	if err != nil {
		res.Err = err
		return res
	}
	if time.Now().After(start) {
		res.Err = fmt.Errorf("loading took %s, longer than the %s lead", took, lead)
		return res
	}
	_ = rdb.Publish(ctx, p.st.WakeChannel(), start.UnixMilli()).Err()
	if err := wait(ctx, time.Until(start)); err != nil {
		res.Err = err
		return res
	}
	u0, err := ReadRedisUse(ctx, rdb)
	if err != nil {
		res.Err = err
		return res
	}
	// Every step moves its task's timer 30 minutes on; a claim holds it
	// at most a lease (30 s) ahead.
	stepped := strconv.FormatInt(start.Add(20*time.Minute).UnixMilli(), 10)
	limit := time.Now().Add(o.Spread + 5*time.Minute)
	for {
		n, err := rdb.ZCount(ctx, p.st.Key("timers"), stepped, "+inf").Result()
		if err == nil && int(n) >= o.Deadlines {
			break
		}
		if time.Now().After(limit) {
			res.Err = fmt.Errorf("only %d of %d steps recorded within %s", n, o.Deadlines, time.Since(start).Round(time.Second))
			return res
		}
		// Every 100 ms, not faster: each poll is a round trip and a count
		// over the timers, Redis CPU the burst's figure would carry (at
		// 20 ms it was some 3 µs a step).
		if err := wait(ctx, 100*time.Millisecond); err != nil {
			res.Err = err
			return res
		}
	}
	res.StepsWindow = time.Since(start)
	u1, err := ReadRedisUse(ctx, rdb)
	if err != nil {
		res.Err = err
		return res
	}
	res.Steady = u1.Since(u0)
	res.SMSAtSteps = p.sms.count()
	logf("burst: %d steps recorded %s after the first deadline; waiting for the SMS and the seals", o.Deadlines, res.StepsWindow.Round(time.Millisecond))
	if err := drained(ctx, p.st, o.Deadlines, p.sms, 10*time.Minute); err != nil {
		res.Err = err
		return res
	}
	res.DrainWindow = time.Since(start)
	u2, err := ReadRedisUse(ctx, rdb)
	if err != nil {
		res.Err = err
		return res
	}
	res.All = u2.Since(u0)
	res.SMS = p.sms.count()
	late, early, err := stepLateness(ctx, p.st, due)
	if err != nil {
		res.Err = err
		return res
	}
	res.Steps, res.Early = len(late), early
	if k := len(late); k > 0 {
		res.P50, res.P99, res.Max = late[k/2], late[k*99/100], late[k-1]
	}
	p.serve.Stop()
	res.ServeLog, _ = SummarizeLog(p.serve.LogPath)
	logf("burst: lateness p50 %s p99 %s max %s, %d early; Redis CPU %s a step (%s with its SMS sent and sealed)",
		res.P50, res.P99, res.Max, res.Early, PerStep(res.Steady.CPU, res.Steps), PerStep(res.All.CPU, res.Steps))
	step, msg := res.Split()
	logf("burst: apart: %s of Redis CPU a step, %s a message sent (%d SMS by the last step)", step, msg, res.SMSAtSteps)
	logf("burst: over the steps: %d writes, busiest: %s", res.Steady.Writes(), strings.Join(res.Steady.Top(12), "; "))
	logf("burst: until drained: %d writes, busiest: %s", res.All.Writes(), strings.Join(res.All.Top(16), "; "))
	return res
}

// loadBurst writes one open task per deadline (tasks 1..n, as a plan
// trigger leaves them: the task hash, its timer, its assignee's open
// tasks), assigned round the responders with their own policies.
func loadBurst(ctx context.Context, st *store.Store, responders int, due []int64) (time.Duration, error) {
	start := time.Now()
	rdb := st.Client()
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	n := len(due) - 1
	for lo := 1; lo <= n; lo += loadBatch {
		pipe := rdb.Pipeline()
		for i := lo; i < min(lo+loadBatch, n+1); i++ {
			num := strconv.Itoa(i)
			who := Responder(1 + i%max(responders, 1))
			pipe.HSet(ctx, st.Key("task", num), "id", "T-"+num, "num", num, "activation", "", "plan", "callout",
				"title", "Report in to the control room", "role", "guard", "policy", "to-"+who,
				"site", loadSites[i%len(loadSites)], "assignee", who, "assignees", who, "status", store.TaskOpen,
				"step", "0", "due", due[i], "created", now, "drill", "", "live_only", "")
			pipe.ZAdd(ctx, st.Key("timers"), redis.Z{Score: float64(due[i]), Member: num})
			pipe.ZAdd(ctx, st.Key("tasks:open", who), redis.Z{Score: float64(i), Member: num})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return 0, fmt.Errorf("load open tasks: %w", err)
		}
	}
	if err := rdb.Set(ctx, st.Key("seq", "task"), n, 0).Err(); err != nil {
		return 0, fmt.Errorf("load open tasks: %w", err)
	}
	return time.Since(start), nil
}

// drained waits until the fake Twilio has sms messages, the outbox is
// empty and every audit event is sealed.
func drained(ctx context.Context, st *store.Store, sms int, counter *smsCounter, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	select {
	case <-counter.wait(sms):
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(limit):
		return fmt.Errorf("only %d of %d SMS sent within %s", counter.count(), sms, limit)
	}
	rdb := st.Client()
	for {
		done, err := settled(ctx, st, rdb)
		if err == nil && done {
			return nil
		}
		if time.Now().After(deadline) {
			b, _ := st.Backlog(ctx)
			return fmt.Errorf("outbox or audit chain not drained within %s: %+v (%v)", limit, b, err)
		}
		if err := wait(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// settled reports whether the outbox stream and every lane are empty and
// the sealer has sealed the last audit event, reading little (the
// harness's own reads are part of what Redis's CPU figures count).
func settled(ctx context.Context, st *store.Store, rdb redis.UniversalClient) (bool, error) {
	pipe := rdb.Pipeline()
	stream := pipe.XLen(ctx, st.Key("outbox"))
	head := pipe.HGet(ctx, st.Key("audit:head"), "id")
	last := pipe.XRevRangeN(ctx, st.Key("audit"), "+", "-", 1)
	lanes := pipe.SMembers(ctx, st.Key("outbox", "lanes"))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return false, err
	}
	if stream.Val() > 0 || (len(last.Val()) > 0 && last.Val()[0].ID != head.Val()) {
		if os.Getenv("BENCH_DEBUG") != "" {
			fmt.Fprintf(os.Stderr, "unsettled: stream %d, head %s, last %v\n", stream.Val(), head.Val(), last.Val())
		}
		return false, nil
	}
	for _, l := range lanes.Val() {
		n, err := rdb.ZCard(ctx, st.Key("outbox", "lane", l)).Result()
		if err != nil || n > 0 {
			return false, err
		}
	}
	return true, nil
}

// stepLateness reads every task.escalated event of the loaded tasks and
// measures it from its deadline to its stream id's time, sorted.
func stepLateness(ctx context.Context, st *store.Store, due []int64) ([]time.Duration, int, error) {
	rdb := st.Client()
	var late []time.Duration
	early := 0
	seen := make([]bool, len(due))
	from := "-"
	for {
		msgs, err := rdb.XRangeN(ctx, st.Key("audit"), from, "+", 10000).Result()
		if err != nil {
			return nil, 0, fmt.Errorf("read audit: %w", err)
		}
		for _, m := range msgs {
			if m.Values["kind"] != "task.escalated" {
				continue
			}
			subj, _ := m.Values["subject"].(string)
			n, err := strconv.Atoi(strings.TrimPrefix(subj, "T-"))
			if err != nil || n <= 0 || n >= len(due) || seen[n] {
				continue
			}
			seen[n] = true
			at := streamTime(m.ID).UnixMilli()
			if at < due[n] {
				early++
			}
			late = append(late, time.Duration(at-due[n])*time.Millisecond)
		}
		if len(msgs) < 10000 {
			break
		}
		from = "(" + msgs[len(msgs)-1].ID
	}
	slices.Sort(late)
	return late, early, nil
}

// streamTime is the time in a stream id "ms-seq".
func streamTime(id string) time.Time {
	ms, _, _ := strings.Cut(id, "-")
	v, _ := strconv.ParseInt(ms, 10, 64)
	return time.UnixMilli(v)
}

// runCallout triggers the plan "callout" (one task per responder, each
// escalating at once to its responder by SMS) with a signed slash
// command and times the SMS's arrival at the fake Twilio.
func runCallout(ctx context.Context, o LiveOptions, logf func(string, ...any)) *CalloutResult {
	res := &CalloutResult{Responders: o.Responders}
	p, err := startLive(ctx, o, logf)
	if err != nil {
		res.Err = err
		return res
	}
	defer p.stop()
	rdb := p.st.Client()
	u0, err := ReadRedisUse(ctx, rdb)
	if err != nil {
		res.Err = err
		return res
	}
	sent := time.Now()
	answer, took, err := p.client.Command(ctx, "U0FARID", "C0HARBOUR", "/plan", "trigger callout @harbour bench call-out")
	if err != nil {
		res.Err = err
		return res
	}
	res.Reply = took
	if !strings.Contains(answer, "triggered") {
		res.Err = fmt.Errorf("trigger answered %.200q", answer)
		return res
	}
	if err := drained(ctx, p.st, o.Responders, p.sms, 2*time.Minute); err != nil {
		res.Err = err
		return res
	}
	u1, err := ReadRedisUse(ctx, rdb)
	if err != nil {
		res.Err = err
		return res
	}
	res.Redis = u1.Since(u0)
	times := p.sms.times()
	res.First, res.Last = times[0].Sub(sent), times[o.Responders-1].Sub(sent)
	logf("call-out: reply %s, first SMS %s, %dth %s; Redis CPU %s, %d writes; busiest: %s", res.Reply.Round(time.Millisecond),
		res.First.Round(time.Millisecond), o.Responders, res.Last.Round(time.Millisecond), res.Redis.CPU, res.Redis.Writes(), strings.Join(res.Redis.Top(10), "; "))
	return res
}

// runTaskMemory triggers the call-out with `muster console` on a fresh
// namespace with no serve running (a console on a shared Redis is only a
// client: nothing escalates or sends), so the tasks stay as the trigger
// left them, and measures Redis's used_memory before and after.
func runTaskMemory(ctx context.Context, o LiveOptions, logf func(string, ...any)) *TaskMemory {
	res := &TaskMemory{Tasks: o.Responders}
	ns := NewNamespace()
	cfg, err := WriteLiveConfig(o.Dir, ns, "http://127.0.0.1:1/api/", "http://127.0.0.1:1", o.Responders)
	if err != nil {
		res.Err = err
		return res
	}
	st, err := store.Open(ctx, store.Options{URL: o.RedisURL, Namespace: ns})
	if err != nil {
		res.Err = err
		return res
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = st.DeleteAll(cctx)
		_ = st.Close()
	}()
	rdb := st.Client()
	// A first trigger makes the namespace's streams and sequences, which
	// every organization has once: the second is measured.
	console := func() error {
		cmd := exec.CommandContext(ctx, o.Bin, "console", "--config", cfg, "--redis", o.RedisURL, "--as", "farid", "--log-level", "error")
		cmd.Stdin = strings.NewReader("/plan trigger callout @harbour memory check\n")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("muster console: %w: %.300s", err, out.String())
		}
		return nil
	}
	if err := console(); err != nil {
		res.Err = err
		return res
	}
	u0, err := ReadRedisUse(ctx, rdb)
	if err != nil {
		res.Err = err
		return res
	}
	if err := console(); err != nil {
		res.Err = err
		return res
	}
	u1, err := ReadRedisUse(ctx, rdb)
	if err != nil {
		res.Err = err
		return res
	}
	res.Bytes = u1.UsedMemory - u0.UsedMemory
	logf("memory: %d tasks triggered: used_memory +%d bytes, %d a task", res.Tasks, res.Bytes, res.Bytes/int64(max(res.Tasks, 1)))
	return res
}

// runLoad runs the command mix at rate for d against a fresh muster serve.
func runLoad(ctx context.Context, o LiveOptions, rate float64, d time.Duration, logf func(string, ...any)) LoadResult {
	p, err := startLive(ctx, o, logf)
	if err != nil {
		return LoadResult{Rate: rate, For: d, Err: err}
	}
	defer p.stop()
	rdb := p.st.Client()
	u0, err := ReadRedisUse(ctx, rdb)
	if err != nil {
		return LoadResult{Rate: rate, For: d, Err: err}
	}
	logf("load: %s commands/s for %s", trimFloat(rate), d)
	r := OpenLoop(ctx, p.client, rate, d)
	u1, err := ReadRedisUse(ctx, rdb)
	if err != nil {
		r.Err = errors.Join(r.Err, err)
	}
	r.Redis = u1.Since(u0)
	r.Steps, r.Sends, err = countEvents(ctx, p.st)
	if err != nil {
		r.Err = errors.Join(r.Err, err)
	}
	logf("load %s/s: sent %d (%.1f/s), p50 %s p99 %s max %s, %d failed, %d dropped; %d triggers, %d acks, %d escalation steps, %d sends",
		trimFloat(rate), r.Sent, r.Achieved, r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond), r.Max.Round(10*time.Microsecond),
		r.Failed, r.Dropped, r.Triggers, r.Acks, r.Steps, r.Sends)
	logf("load %s/s: Redis CPU %s (%s a command), busiest: %s", trimFloat(rate), r.Redis.CPU, PerStep(r.Redis.CPU, r.Sent), strings.Join(r.Redis.Top(12), "; "))
	return r
}

// countEvents counts the escalation steps and messages sent in the
// namespace's audit stream.
func countEvents(ctx context.Context, st *store.Store) (steps, sends int, err error) {
	rdb := st.Client()
	from := "-"
	for {
		msgs, err := rdb.XRangeN(ctx, st.Key("audit"), from, "+", 10000).Result()
		if err != nil {
			return steps, sends, fmt.Errorf("read audit: %w", err)
		}
		for _, m := range msgs {
			switch m.Values["kind"] {
			case "task.escalated", "task.unanswered":
				steps++
			case store.KindMessageSent:
				sends++
			case store.KindMessagesSent:
				sends += len(store.AuditEvent{Kind: store.KindMessagesSent, Data: fmt.Sprint(m.Values["data"])}.Messages())
			}
		}
		if len(msgs) < 10000 {
			return steps, sends, nil
		}
		from = "(" + msgs[len(msgs)-1].ID
	}
}
