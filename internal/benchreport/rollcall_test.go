package benchreport

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/faketwilio"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/store"
)

// rollCallPublicURL is server.public_url in the example: Twilio signs the
// webhook URLs under it.
const rollCallPublicURL = "https://muster.example.com"

// TestRollCallAtScale measures a roll call of People (default 10,000)
// on duty at one site, through the real binary over HTTP: the supervisor's
// /rollcall start (a signed Slack command) must have every person's first
// message queued within 1 s of the command; then they answer SAFE by SMS
// (signed Twilio webhooks) at Rate (default 500) a second, open loop: p99
// from an answer's arrival to its record (the webhook's answer, which
// comes once it is recorded) at most 50 ms, and the tally card edited at
// most once a second. It runs only when asked: MUSTER_BENCH_ROLLCALL=1
// with MUSTER_TEST_REDIS_URL (make bench-rollcall, which also sets
// MUSTER_BENCH_OUT so the figures go into docs/BENCHMARKS.md).
func TestRollCallAtScale(t *testing.T) {
	if os.Getenv("MUSTER_BENCH_ROLLCALL") == "" {
		t.Skip("skipped: MUSTER_BENCH_ROLLCALL=1 (with MUSTER_TEST_REDIS_URL) measures a roll call of 10,000 against muster serve; make bench-rollcall runs it")
	}
	redisURL := storetest.URL()
	if redisURL == "" {
		t.Skip("skipped: the roll-call benchmark needs a real Redis (MUSTER_TEST_REDIS_URL)")
	}
	people := envInt("MUSTER_BENCH_ROLLCALL_PEOPLE", 10000)
	rate := envInt("MUSTER_BENCH_ROLLCALL_RATE", 500)
	answers := min(envInt("MUSTER_BENCH_ROLLCALL_ANSWERS", people), people)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	bin, err := BuildMuster(ctx, "go", "../..", tmp)
	if err != nil {
		t.Fatal(err)
	}
	p, err := startLiveWith(ctx, LiveOptions{Bin: bin, RedisURL: redisURL, Dir: tmp}, t.Logf, func(ns, slackAPI, twilioAPI string) (string, error) {
		return writeRollCallConfig(tmp, ns, slackAPI, twilioAPI, people)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	st, s, fs, client := p.st, p.serve, p.slack, p.client
	run := RollCallRun{Date: time.Now(), Machine: ReadMachine(ctx, "go", st.Client()), RedisURL: redisURL, People: people, Answers: answers}

	// The command, and every person's first message queued (the first
	// step of their question, whose audit event is written with the
	// messages it queues).
	t0 := time.Now()
	answer, took, err := client.Command(ctx, "U0FARID", "C0HARBOUR", "/rollcall", "start @harbour bench")
	if err != nil || !strings.Contains(answer, "R-1") {
		t.Fatalf("/rollcall start: %v %.200q", err, answer)
	}
	var first []time.Duration
	deadline := time.Now().Add(60 * time.Second)
	poll := time.NewTicker(200 * time.Millisecond)
	defer poll.Stop()
	for {
		first = first[:0]
		if err := st.ScanAudit(ctx, "", func(e store.AuditEvent) error {
			// The first step of a person's question: queued by the start
			// itself (rollcall.asked with its step), or by the engine.
			first1 := (e.Kind == "rollcall.asked" || e.Kind == "task.escalated") && strings.Contains(e.Data, `"step":1`)
			if first1 && strings.Contains(e.Data, `"rollcall":"R-1"`) {
				first = append(first, streamTime(e.ID).Sub(t0))
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(first) >= people || time.Now().After(deadline) {
			break
		}
		<-poll.C // the real process's progress, read again
	}
	slices.Sort(first)
	if len(first) < people {
		t.Fatalf("%d of %d first messages queued within 60 s", len(first), people)
	}
	firstAll := first[len(first)-1]
	t.Logf("roll call of %d: command answered in %s; first message of everyone queued %s after the command (p50 %s, p99 %s)",
		people, took.Round(time.Millisecond), firstAll.Round(time.Millisecond), first[len(first)/2].Round(time.Millisecond),
		first[len(first)*99/100].Round(time.Millisecond))

	// Answers: SMS SAFE from each person's phone at rate a second, open
	// loop (each sent at its time whatever the earlier ones are doing).
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	lat := make([]time.Duration, answers)
	bad := make([]string, answers)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range answers {
		at := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
		if d := time.Until(at); d > 0 {
			<-time.After(d) // the open-loop sender's schedule
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			form := url.Values{"From": {fmt.Sprintf("+447701%06d", i+1)}, "To": {"+15005550006"}, "Body": {"SAFE"},
				"MessageSid": {fmt.Sprintf("SMbench%08d", i)}, "AccountSid": {liveTwilioSID}}
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/twilio/sms", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Twilio-Signature", faketwilio.Sign(liveTwilioAuth, rollCallPublicURL+"/twilio/sms", form))
			sent := time.Now()
			resp, err := hc.Do(req)
			lat[i] = time.Since(sent)
			if err != nil {
				bad[i] = err.Error()
				return
			}
			defer resp.Body.Close()
			var b strings.Builder
			_, _ = fmt.Fprint(&b, resp.Status)
			if resp.StatusCode != http.StatusOK {
				bad[i] = b.String()
			}
		}()
	}
	wg.Wait()
	sendFor := time.Since(start)
	failed := 0
	for _, b := range bad {
		if b != "" {
			failed++
			if failed == 1 {
				t.Logf("first failed answer: %s", b)
			}
		}
	}
	slices.Sort(lat)
	p50, p99, worst := lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]
	rc, err := st.RollCall(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d answers SAFE by SMS over %s (%.0f a second): answer to record p50 %s, p99 %s, max %s; %d failed; tally %d safe of %d",
		answers, sendFor.Round(time.Millisecond), float64(answers)/sendFor.Seconds(), p50.Round(100*time.Microsecond),
		p99.Round(100*time.Microsecond), worst.Round(time.Millisecond), failed, rc.Safe, rc.Total)

	// The tally cards: edits per card per second.
	// Wait until every card's latest edit shows the final tally (the
	// last batched edit is due within a second of the last answer).
	final := fmt.Sprintf("%d safe,", rc.Safe)
	edits := map[string][]time.Time{}
	for settleBy := time.Now().Add(10 * time.Second); ; {
		clear(edits)
		latest := map[string]bool{}
		for _, r := range fs.Requests() {
			if r.Method == "chat.update" {
				k := r.Args["channel"] + " " + r.Args["ts"]
				edits[k] = append(edits[k], r.Received)
				latest[k] = strings.Contains(fmt.Sprint(r.Args), final)
			}
		}
		done := len(latest) > 0
		for _, ok := range latest {
			done = done && ok
		}
		if done || time.Now().After(settleBy) {
			break
		}
		<-poll.C
	}
	most, total := 0, 0
	for _, ts := range edits {
		total += len(ts)
		for i := range ts {
			n := 0
			for j := i; j < len(ts) && ts[j].Sub(ts[i]) < time.Second; j++ {
				n++
			}
			most = max(most, n)
		}
	}
	run.LoadEnd = LoadAvg()
	t.Logf("tally cards: %d edits on %d cards, at most %d in any second on one card; load average %s",
		total, len(edits), most, run.LoadEnd)
	fmt.Printf("ROLLCALL people=%d first_all_ms=%d first_p99_ms=%d command_ms=%d answers=%d rate=%.0f p50_ms=%.1f p99_ms=%.1f max_ms=%d failed=%d edits=%d max_edits_per_s=%d load=%q\n",
		people, firstAll.Milliseconds(), first[len(first)*99/100].Milliseconds(), took.Milliseconds(), answers, float64(answers)/sendFor.Seconds(),
		float64(p50.Microseconds())/1000, float64(p99.Microseconds())/1000, worst.Milliseconds(), failed, total, most, run.LoadEnd)
	run.Command, run.FirstAll, run.FirstP50, run.FirstP99 = took, firstAll, first[len(first)/2], first[len(first)*99/100]
	run.Rate, run.P50, run.P99, run.Max, run.Failed, run.Recorded = float64(answers)/sendFor.Seconds(), p50, p99, worst, failed, rc.Safe
	run.Edits, run.Cards, run.MostInASecond = total, len(edits), most
	recordBlock(t, run.Block())

	if firstAll > GoalRollCallFirst {
		t.Errorf("the first message of everyone was queued %s after the command; the goal is 1 s", firstAll.Round(time.Millisecond))
	}
	if p99 > GoalRollCallAnswer {
		t.Errorf("answer to record p99 %s; the goal is 50 ms", p99.Round(100*time.Microsecond))
	}
	if most > GoalRollCallEditsPer {
		t.Errorf("a tally card was edited %d times in one second; at most once", most)
	}
	if failed > 0 || rc.Safe != int64(answers) {
		t.Errorf("%d answers failed; %d recorded safe of %d sent", failed, rc.Safe, answers)
	}
}

// writeRollCallConfig writes the example configuration with n more people
// r0001... each on duty at harbour around the clock (a roster of their
// own), Slack and Twilio at the fakes.
func writeRollCallConfig(dir, namespace, slackAPI, twilioAPI string, n int) (string, error) {
	doc, root, err := exampleConfig(dir, namespace, slackAPI, twilioAPI, LiveRate)
	if err != nil {
		return "", err
	}
	// One roster covers one role at a site: each person holds a post of
	// their own (a role post-rNNNN) at harbour.
	var people, rosters []map[string]any
	var roles []string
	for i := 1; i <= n; i++ {
		id := Responder(i)
		post := "post-" + id
		roles = append(roles, post)
		people = append(people, map[string]any{"id": id, "name": "Guard " + id, "phone": fmt.Sprintf("+447701%06d", i), "roles": []string{"guard", post}})
		rosters = append(rosters, map[string]any{"id": "bench-" + id, "site": "harbour", "role": post, "duty": "on_call",
			"rotation": map[string]any{"shift": "24h", "handover": "07:00", "start": "2026-01-05", "people": []string{id}}})
	}
	if err := appendItems(root, "roles", roles); err != nil {
		return "", err
	}
	if err := appendItems(root, "people", people); err != nil {
		return "", err
	}
	if err := appendItems(root, "rosters", rosters); err != nil {
		return "", err
	}
	return saveConfig(doc, dir, namespace)
}
