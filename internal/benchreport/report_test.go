package benchreport

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	slackbot "github.com/muster-ops/muster/bot/slack"
	"github.com/muster-ops/muster/configs"
)

func TestRenderSaysWhichGoalsAreMet(t *testing.T) {
	p, err := Parse(strings.NewReader(sample + `pkg: github.com/muster-ops/muster/bot/slack
BenchmarkSlackCommandLoad200-2   1   5000000000 ns/op   199.5 req/s   3.000 redis-rt/op   0 failed   0 dropped   0 over-3s   4.1 p50-ms   31.5 p99-ms   80 p99.9-ms   120 max-ms   9 sent-p99-ms
BenchmarkSomethingNew-2   1000   1234 ns/op   7 widgets/op
ok  	github.com/muster-ops/muster/bot/slack	12.0s
`))
	if err != nil {
		t.Fatal(err)
	}
	r := Report{
		Date: time.Date(2026, 11, 27, 14, 0, 0, 0, time.UTC), Duration: 20 * time.Minute, Command: "go run ./internal/benchreport/cmd/benchreport -soak 2m",
		Machine: Machine{CPUModel: "Test CPU", CPUs: 2, MemTotal: "4.0 GiB", Go: "go1.26", Redis: "Redis 7.0.15 (standalone)", LoadAvg: "0.10 0.20 0.30"},
		Bench:   p,
		Memory: &Memory{Idle: 21e6, IdleHWM: 22e6, Tasks: 100_000, WithTasks: 160e6, WithTasksHWM: 170e6, Pending: 100_000,
			SoakDuration: 2 * time.Minute, SoakRate: 10, Warmup: 24 * time.Second, Settle: 15 * time.Second,
			Soak: SoakResult{Sent: 1200, Samples: []RSSSample{{0, 20e6}, {25 * time.Second, 24e6}, {2 * time.Minute, 26e6}}}},
		Notes: []string{"The soak ran for 2m0s."},
	}
	md := Render(r)
	reportHas(t, md,
		"| command p99 at 200 req/s (in process) | 31.5 ms | ≤ 25 ms | **no** |",
		"| rate achieved | 199.5/s | 200/s (within 5%) | yes |",
		"| p99 | 31.5 ms | ≤ 25 ms | **no** | from the actual send the p99 is 9.0 ms: the rest is the load generator",
		"| Redis round trips per command (worst) | 1 (`/muster whoami`) | ≤ 2 | yes | 1 of 1 commands within",
		"| SlackCommandLoad200 (bot/slack) | 3 | ≤ 2 | **no** |",
		// The burst shape misses, with the drain rate worked out from max (94 s).
		"all due within 20 s: p99 | 92.9 s | ≤ 250 ms | **no** | Redis recorded about 877 steps a second",
		"| timer lateness p99 at 100,000 pending, all due within 20 s (in process) | 92.9 s, 0 early | ≤ 250 ms and never early | **no** |",
		"| paced call-out at 10/s, off the setting | not run | ≤ 5% | not run | benchmark not found in the output |",
		"| idle RSS | 21.0 MB | ≤ 40 MB | yes |",
		"| RSS with 100,000 open tasks | 160.0 MB | ≤ 150 MB | **no** |",
		// Growth from the first sample after the warm-up (25 s) to the end.
		"| RSS growth over a 2m0s soak | +2.0 MB | ≤ 10 MB",
		"| github.com/muster-ops/muster/bot/slack | BenchmarkSomethingNew | 1000 | 1234 ns/op, 7 widgets/op |",
		"- FAIL `BenchmarkCommandRoundTrips/RosterCover` (github.com/muster-ops/muster/internal/benchreport)",
		"- package github.com/muster-ops/muster/bot/slack: build failed",
		"| CPU | Test CPU × 2 logical CPUs |",
		"> **Note.** The soak ran for 2m0s.",
		"go run ./internal/benchreport/cmd/benchreport -soak 2m",
	)
	if strings.Contains(md, "busy with other work") {
		t.Error("a quiet machine (load 0.1) called busy")
	}
	r.Machine.LoadAvg = "5.00 4.00 3.00"
	if md := Render(r); !strings.Contains(md, "load average 2.5 per CPU") {
		t.Error("a busy machine (load 5 on 2 CPUs) not called busy")
	}
}

func TestRenderWithoutMemory(t *testing.T) {
	md := Render(Report{MemorySkip: "needs a real Redis", Bench: Parsed{Skipped: "skipped for this run (-skip-bench)"}, LiveSkip: "skipped for this run (-skip-live)"})
	reportHas(t, md,
		"| idle RSS | not run | ≤ 40 MB | not run | needs a real Redis |",
		"| paced call-out at 10/s, off the setting | not run | ≤ 5% | not run | skipped for this run (-skip-bench) |",
		// Every goal through the binary is named, with why it has no figure.
		"| Redis CPU per escalation step, over a burst (INFO cpu Δ ÷ steps) | not run | ≤ 50 µs | not run | skipped for this run (-skip-live) |",
		"| capacity: mixed commands a second at p99 ≤ 25 ms | not run | ≥ 1,000/s | not run | skipped for this run (-skip-live) |",
		"The go test benchmarks were left out of this run",
	)
}

// The goals of the measurements through the binary are each beside their
// figure, met or missed.
func TestRenderLiveGoals(t *testing.T) {
	steady := RedisUse{CPU: 4 * time.Second, Calls: map[string]int64{"xadd": 200_000, "hmget": 100_000, "hset": 100_000}}
	all := RedisUse{CPU: 9 * time.Second, Calls: map[string]int64{"xadd": 300_000, "hset": 200_000}}
	r := Report{Live: &Live{
		Burst: &BurstResult{Deadlines: 100_000, Spread: 20 * time.Second, Steps: 100_000, P50: 20 * time.Millisecond,
			P99: 300 * time.Millisecond, Max: 900 * time.Millisecond, Steady: steady, All: all, SMS: 100_000, SMSAtSteps: 50_000},
		Callout: &CalloutResult{Responders: 1000, Reply: 50 * time.Millisecond, First: 150 * time.Millisecond, Last: 900 * time.Millisecond},
		Memory:  &TaskMemory{Tasks: 1000, Bytes: 900_000},
		Load:    &LoadResult{Rate: 200, For: 5 * time.Minute, Sent: 60_000, Achieved: 200, P99: 12 * time.Millisecond},
		Capacity: []LoadResult{{Rate: 1000, For: 20 * time.Second, Sent: 20_000, Achieved: 999, P99: 20 * time.Millisecond},
			{Rate: 1200, For: 20 * time.Second, Sent: 24_000, Achieved: 1199, P99: 40 * time.Millisecond}},
	}}
	md := Render(r)
	reportHas(t, md,
		// 4 s over 100,000 steps; the writes are xadd and hset, not hmget.
		"| Redis CPU per escalation step, over a burst (INFO cpu Δ ÷ steps) | 40 µs | ≤ 50 µs | yes | a burst of 100,000 deadlines",
		"| Redis writes per step, over the same burst | 3.0 | — | — | 5.0 with its SMS sent and sealed (90 µs of Redis CPU a step) |",
		"| lateness p99, 100,000 deadlines due within 20 s | 300 ms | ≤ 250 ms | **no** |",
		"| lateness max, same burst | 900 ms | ≤ 1 s | yes |",
		"| steps fired early, same burst | 0 | 0 | yes |",
		"| 1,000-responder call-out fully sent, pacing off | 900 ms | ≤ 1 s | yes |",
		"| signed command p99 at 200/s sustained for 5 minutes, mix with trigger and ack and the escalations they cause | 12.0 ms | ≤ 25 ms | yes |",
		"| capacity: mixed commands a second at p99 ≤ 25 ms | 1000/s | ≥ 1,000/s | yes | 1000/s: p99 20.0 ms; 1200/s: p99 40.0 ms (missed: p99 over 25 ms) |",
		"| Redis memory per open task, as a trigger leaves it | 900 B | ≤ 2 KB (2,048 B) | yes |",
		"| idle RSS | not run | ≤ 40 MB | not run |",
		"| RSS with 100,000 open tasks | not run | ≤ 150 MB | not run |",
	)
}

// A goal stated for a size (100,000 deadlines, 1,000 responders, 5
// minutes at 200/s, 100,000 open tasks) is not met by a smaller run that
// is within it: "not shown". A smaller run that misses it misses it.
func TestRenderSmallerRunsDoNotMeetGoals(t *testing.T) {
	r := Report{Live: &Live{
		Burst: &BurstResult{Deadlines: 20_000, Spread: 20 * time.Second, Steps: 20_000, P99: 100 * time.Millisecond, Max: 2 * time.Second,
			Steady: RedisUse{CPU: time.Second}},
		Callout:  &CalloutResult{Responders: 100, Last: 200 * time.Millisecond},
		Load:     &LoadResult{Rate: 200, For: 30 * time.Second, Sent: 6000, Achieved: 200, P99: 10 * time.Millisecond},
		Capacity: []LoadResult{{Rate: 400, For: 20 * time.Second, Sent: 8000, Achieved: 400, P99: 10 * time.Millisecond, Shed: 3}},
	}, LiveOptions: LiveOptions{Skip: map[string]bool{"memory": true}},
		Memory: &Memory{Idle: 20e6, Tasks: 20_000, WithTasks: 30e6, SoakDuration: time.Minute}}
	md := Render(r)
	reportHas(t, md,
		"| lateness p99, 100,000 deadlines due within 20 s | 100 ms | ≤ 250 ms | not shown | p50 0.0 µs; 20,000 steps in 0.0 µs; this burst: 20,000 deadlines within 20.0 s |",
		"| lateness max, same burst | 2.00 s | ≤ 1 s | **no** |",
		"| Redis CPU per escalation step, over a burst (INFO cpu Δ ÷ steps) | 50 µs | ≤ 50 µs | yes |",
		"| 1,000-responder call-out fully sent, pacing off | 200 ms | ≤ 1 s | not shown |",
		"this call-out: 100 responders",
		"| signed command p99 at 200/s sustained for 5 minutes, mix with trigger and ack and the escalations they cause | 10.0 ms | ≤ 25 ms | not shown |",
		"this run: 200/s for 30s",
		"| capacity: mixed commands a second at p99 ≤ 25 ms | 0/s | ≥ 1,000/s | **no** | 400/s: p99 10.0 ms (missed: 3 shed) |",
		"| Redis memory per open task, as a trigger leaves it | not run | ≤ 2 KB (2,048 B) | not run | left out of this run (BENCH_LIVE_SKIP) |",
		"| RSS with 20,000 open tasks | 30.0 MB | ≤ 150 MB | not shown |",
		"| p99 at 200/s for 30s | 10.0 ms | ≤ 25 ms for 5 minutes at 200/s | not shown |",
		"| lateness p99 | 100 ms | ≤ 250 ms | not shown |",
		"| last of 100 SMS (all sent) | 200 ms | ≤ 1 s | not shown |",
	)
	if strings.Contains(md, "| yes | this") {
		t.Error("a smaller run is called met")
	}
}

// A burst that failed leaves every goal of the burst named, not run, with
// the reason; a load that failed part way says why it missed.
func TestRenderFailedLiveParts(t *testing.T) {
	md := Render(Report{Live: &Live{
		Burst: &BurstResult{Deadlines: 100_000, Spread: 20 * time.Second, Err: errors.New("only 512 of 100000 steps recorded within 5m20s")},
		Load:  &LoadResult{Rate: 200, For: 5 * time.Minute, Sent: 60_000, Achieved: 180, P99: 10 * time.Millisecond, Failed: 2, Err: errors.New("muster serve exited")},
	}})
	reportHas(t, md,
		"| Redis CPU per escalation step, over a burst (INFO cpu Δ ÷ steps) | not run | ≤ 50 µs | not run | only 512 of 100000 steps recorded within 5m20s |",
		"| lateness p99, 100,000 deadlines due within 20 s | not run | ≤ 250 ms | not run | only 512",
		"| lateness max, same burst | not run | ≤ 1 s | not run | only 512",
		"| steps fired early, same burst | not run | 0 | not run | only 512",
		"| 10.0 ms | ≤ 25 ms | **no** |",
		"missed: 2 failed, sent at 180.0/s, more than 5% short, muster serve exited",
		"| 1,000-responder call-out fully sent, pacing off | not run | ≤ 1 s | not run | not measured |",
	)
}

func TestMachineParsers(t *testing.T) {
	model, n := CPUInfo(strings.NewReader("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t: fpu\n\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R) Processor\n"))
	if model != "Intel(R) Xeon(R) Processor" || n != 2 {
		t.Errorf("CPUInfo = %q, %d", model, n)
	}
	if got := MemTotal(strings.NewReader("MemTotal:       24683624 kB\nMemFree: 1 kB\n")); got != "23.5 GiB" {
		t.Errorf("MemTotal = %q", got)
	}
	rss, hwm, err := parseStatus(strings.NewReader("Name:\tmuster\nVmHWM:\t   30000 kB\nVmRSS:\t   20480 kB\n"))
	if err != nil || rss != 20480<<10 || hwm != 30000<<10 {
		t.Errorf("parseStatus = %d, %d, %v", rss, hwm, err)
	}
	if _, _, err := parseStatus(strings.NewReader("Name:\tzombie\n")); err == nil {
		t.Error("a status without VmRSS read as fine")
	}
	if rss, _, err := VmRSS(os.Getpid()); err != nil || rss < 1<<20 {
		t.Errorf("own VmRSS = %d, %v", rss, err)
	}
}

func TestWriteConfigKeepsTheExampleButTheNamespaceAndURLs(t *testing.T) {
	dir := t.TempDir()
	path, err := WriteConfig(dir, "bench-test", "http://127.0.0.1:9/api/")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ex, _ := configs.Example()
	if cfg.Namespace != "bench-test" || cfg.Slack.APIURL != "http://127.0.0.1:9/api/" || cfg.Server.Journal != filepath.Join(dir, "bench-test-journal.jsonl") {
		t.Errorf("namespace %q, slack api %q, journal %q", cfg.Namespace, cfg.Slack.APIURL, cfg.Server.Journal)
	}
	if len(cfg.People) != len(ex.People) || len(cfg.Plans) != len(ex.Plans) || cfg.Rosters[0].Rotation.Start != ex.Rosters[0].Rotation.Start {
		t.Error("the rest of the example changed")
	}
}

// The configurations of the measurements through the binary and of the
// roll call load, with the fakes' URLs, Twilio's rate and their people.
func TestLiveConfigs(t *testing.T) {
	dir := t.TempDir()
	path, err := writeLiveConfig(dir, "bench-live", "http://127.0.0.1:9/api/", "http://127.0.0.1:8", 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ex, _ := configs.Example()
	if cfg.Namespace != "bench-live" || cfg.Slack.APIURL != "http://127.0.0.1:9/api/" || cfg.Twilio.APIURL != "http://127.0.0.1:8" || cfg.Twilio.Rate != 1 {
		t.Errorf("namespace %q, slack api %q, twilio api %q, rate %v", cfg.Namespace, cfg.Slack.APIURL, cfg.Twilio.APIURL, cfg.Twilio.Rate)
	}
	if len(cfg.People) != len(ex.People)+3 || len(cfg.Plans) != len(ex.Plans)+1 {
		t.Errorf("%d people, %d plans: want the example's and 3 responders in a call-out plan", len(cfg.People), len(cfg.Plans))
	}
	path, err = writeRollCallConfig(dir, "bench-rollcall", "http://127.0.0.1:9/api/", "http://127.0.0.1:8", 4)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err = configs.Load(path); err != nil {
		t.Fatal(err)
	}
	if cfg.Namespace != "bench-rollcall" || cfg.Twilio.Rate != LiveRate || len(cfg.People) != len(ex.People)+4 || len(cfg.Rosters) != len(ex.Rosters)+4 {
		t.Errorf("namespace %q, rate %v, %d people, %d rosters", cfg.Namespace, cfg.Twilio.Rate, len(cfg.People), len(cfg.Rosters))
	}
}

func TestSummarizeLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "serve.log")
	log := `{"level":"info","msg":"muster serving"}
{"level":"warn","msg":"slack queue full; message refused","queue":"C0HARBOUR"}
{"level":"warn","msg":"slack queue full; message refused","queue":"C0DEPOT"}
{"level":"error","msg":"server stopped"}
not json
`
	if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := SummarizeLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.Lines != 5 || s.Warn != 2 || s.Error != 1 {
		t.Errorf("summary = %+v", s)
	}
	if len(s.Top) != 2 || s.Top[0] != "warn: slack queue full; message refused ×2" {
		t.Errorf("top = %q", s.Top)
	}
	if len(s.Examples) != 2 || !strings.Contains(s.Examples[0], "C0HARBOUR") {
		t.Errorf("examples = %q", s.Examples)
	}
}

// TestSoakSendsSignedCyclesAndReadsRSS runs a short soak against a stand-in
// that checks each request's Slack signature and answers with the refs a
// real muster would: the refs flow from one command to the next, a missing
// one counts as unexpected, and RSS is sampled.
func TestSoakSendsSignedCyclesAndReadsRSS(t *testing.T) {
	const secret = "soak-secret"
	var (
		mu    sync.Mutex
		lines []string
		bad   int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := slackbot.VerifyRequest(r, secret, nil)
		if err != nil {
			mu.Lock()
			bad++
			mu.Unlock()
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		v, _ := url.ParseQuery(string(body))
		line := v.Get("command") + " " + v.Get("text")
		mu.Lock()
		lines = append(lines, line)
		mu.Unlock()
		answer := "ok " + v.Get("text")
		switch {
		case strings.HasPrefix(line, "/incident raise"):
			answer = "INC-7 raised"
		case strings.HasPrefix(line, "/plan trigger"):
			answer = "A-3 triggered: T-11, T-12"
		case line == "/muster whoami":
			answer = "You are Farid"
		case line == "/plan list", line == "/plan show fire-evacuation":
			answer = "fire-evacuation: Fire evacuation"
		case line == "/muster help":
			answer = "muster commands"
		case strings.HasPrefix(line, "/plan dryrun"):
			answer = "nothing" // lacks "Fire evacuation": unexpected
		}
		fmt.Fprintf(w, `{"response_type":"ephemeral","text":%q}`, answer)
	}))
	defer srv.Close()
	rss := 0
	res, err := Soak(context.Background(), SoakOptions{
		Client: &SlackClient{URL: srv.URL, Secret: secret}, Duration: 4 * time.Second, Rate: 60, Sample: time.Second,
		RSS: func() (int64, error) { rss++; return int64(rss) << 20, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if bad > 0 {
		t.Fatalf("%d requests failed the signature check", bad)
	}
	if res.Sent < 200 || res.Sent != len(lines) || res.Failed != 0 {
		t.Fatalf("sent %d, received %d, failed %d (4 s at 60/s)", res.Sent, len(lines), res.Failed)
	}
	joined := strings.Join(lines, "\n")
	for _, want := range []string{"/incident show INC-7", "/incident resolve INC-7 soak", "/ack T-11 soak check", "/plan standdown A-3"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no %q among the commands sent", want)
		}
	}
	if res.Triggers == 0 {
		t.Error("no plan triggered in 10+ cycles")
	}
	// Each cycle's dry run is answered without "Fire evacuation".
	if res.Unexpected == 0 || len(res.Examples) == 0 || !strings.Contains(res.Examples[0], "dryrun") {
		t.Errorf("unexpected = %d, examples %q", res.Unexpected, res.Examples)
	}
	if len(res.Samples) < 3 || res.Samples[len(res.Samples)-1].RSS <= res.Samples[0].RSS {
		t.Errorf("samples = %+v", res.Samples)
	}
}

func TestSoakStopsOnRSSFailure(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"text":"ok"}`)
	}))
	defer srv.Close()
	_, err := Soak(context.Background(), SoakOptions{
		Client: &SlackClient{URL: srv.URL, Secret: "s"}, Duration: time.Second, Rate: 10, Sample: 100 * time.Millisecond,
		RSS: func() (int64, error) { return 0, errors.New("muster serve exited") },
	})
	if err == nil || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("err = %v, want the RSS failure", err)
	}
}

func TestThousandsAndThin(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 100000: "100,000", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q", n, got)
		}
	}
	var s []RSSSample
	for i := range 121 {
		s = append(s, RSSSample{At: time.Duration(i) * 5 * time.Second})
	}
	th := thinSamples(s, 12)
	if len(th) != 12 || th[0].At != 0 || th[11].At != 600*time.Second {
		t.Errorf("thinned = %v", th)
	}
}

// A new report keeps the one before it apart, under its own date and
// CPU, and the runs that one kept.
func TestCarryEarlier(t *testing.T) {
	first := Render(Report{Date: time.Date(2026, 11, 27, 16, 26, 0, 0, time.UTC), Machine: Machine{CPUModel: "Old CPU", CPUs: 2}, LiveSkip: "off"})
	second := Render(Report{Date: time.Date(2026, 12, 3, 15, 20, 0, 0, time.UTC), Machine: Machine{CPUModel: "New CPU", CPUs: 2}, LiveSkip: "off"}) + CarryEarlier(first)
	third := CarryEarlier(second)
	for _, want := range []string{"### 2026-12-03 15:20 UTC, New CPU × 2 logical CPUs", "### 2026-11-27 16:26 UTC, Old CPU × 2 logical CPUs", "| lateness p99, 100,000 deadlines due within 20 s | not run |"} {
		if !strings.Contains(third, want) {
			t.Errorf("carried part lacks %q:\n%s", want, third)
		}
	}
	if strings.Index(third, "New CPU") > strings.Index(third, "Old CPU") {
		t.Error("the run replaced last is not first")
	}
	if strings.Count(third, "## Earlier runs") != 1 {
		t.Error("the Earlier runs heading is repeated")
	}
	if CarryEarlier("") != "" {
		t.Error("nothing to carry gave a section")
	}
}

// Split's shares are shown only when they separate: a negative share is
// noise, not a figure.
func TestRenderSplitOnlyWhenItSeparates(t *testing.T) {
	burst := &BurstResult{Deadlines: 100_000, Spread: 20 * time.Second, Steps: 100_000,
		Steady: RedisUse{CPU: 4 * time.Second}, All: RedisUse{CPU: 9 * time.Second}, SMS: 100_000, SMSAtSteps: 50_000}
	md := Render(Report{Live: &Live{Burst: burst}})
	if !strings.Contains(md, "shares do not separate") || !strings.Contains(md, "| apart: Redis CPU of a step alone | does not separate |") || strings.Contains(md, "-10") {
		t.Error("a negative share of a step was printed as a figure")
	}
	burst.Steady.CPU = 6 * time.Second // 5 s for 100,000 steps, 1 s for the 50,000 SMS sent by then
	burst.All.CPU = 7 * time.Second
	md = Render(Report{Live: &Live{Burst: burst}})
	if !strings.Contains(md, "apart: 50 µs a step, 20 µs an SMS sent") || !strings.Contains(md, "| apart: Redis CPU of an SMS sent | 20 µs |") {
		t.Error("the shares were not printed")
	}
}

// reportHas fails the test for each of wants the report md lacks.
func reportHas(t *testing.T, md string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
