package benchreport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/muster-ops/muster/internal/fakeslack"
	"github.com/muster-ops/muster/store"
)

// DefaultSingleShot names the benchmarks that size themselves and run
// once whatever b.N is (their doc comments say -benchtime=1x): they run
// with -benchtime 1x, every other benchmark with Options.BenchTime.
const DefaultSingleShot = `^(BenchmarkCalloutPaced.*)$`

// DefaultSkip names the in-process benchmarks the report leaves out by
// default: the measurements through the binary (live.go) stand for them
// (lateness, command load, the unpaced call-out). -skip ” runs them too.
const DefaultSkip = `^(BenchmarkTimerLateness|BenchmarkSlackCommandLoad200|BenchmarkCalloutUnpaced)$`

// Options configures one run of the report.
type Options struct {
	// ModuleDir is the module's root (default ".").
	ModuleDir string
	// Out is the Markdown file to write (default docs/BENCHMARKS.md,
	// relative to ModuleDir).
	Out string
	// Go is the go command (default "go").
	Go string
	// Pkgs are the packages to benchmark (default ./...).
	Pkgs []string
	// BenchTime is -benchtime for the benchmarks that are not single-shot
	// (default 1s).
	BenchTime string
	// SingleShot matches the benchmarks run with -benchtime 1x (default
	// DefaultSingleShot).
	SingleShot string
	// Skip matches benchmarks left out (DefaultSkip unless set; "-" for
	// none).
	Skip string
	// LoadSeconds is how long the 200 req/s load runs
	// (MUSTER_SLACK_LOAD_SECONDS, default 30).
	LoadSeconds int
	// Soak is the soak's length (default 10 minutes); SoakRate its
	// commands a second (default 10).
	Soak     time.Duration
	SoakRate float64
	// Tasks is how many open tasks the second RSS figure holds (default
	// 100,000).
	Tasks int
	// Settle is how long muster serve runs before each RSS reading
	// (default 15 s).
	Settle time.Duration
	// RedisURL is the Redis the figures use (default
	// MUSTER_TEST_REDIS_URL). When empty and StartRedis is set, a
	// redis-server is started for the run on a free loopback port.
	RedisURL   string
	StartRedis bool
	// SkipBench and SkipRSS leave out the go test benchmarks or the RSS
	// measurements (for a quick look at one part).
	SkipBench, SkipRSS bool
	// Live configures the measurements through the real binary (Bin,
	// RedisURL, Dir and Logf are filled in); SkipLive leaves them out.
	Live     LiveOptions
	SkipLive bool
	// Command is the command line recorded in the report.
	Command string
	// Notes are added at the top of the report.
	Notes []string
	// Log receives progress and go test's output (default os.Stdout).
	Log io.Writer
}

func (o *Options) defaults() {
	if o.ModuleDir == "" {
		o.ModuleDir = "."
	}
	if o.Out == "" {
		o.Out = filepath.Join("docs", "BENCHMARKS.md")
	}
	if !filepath.IsAbs(o.Out) {
		o.Out = filepath.Join(o.ModuleDir, o.Out)
	}
	if o.Go == "" {
		o.Go = "go"
	}
	if len(o.Pkgs) == 0 {
		o.Pkgs = []string{"./..."}
	}
	if o.BenchTime == "" {
		o.BenchTime = "1s"
	}
	if o.SingleShot == "" {
		o.SingleShot = DefaultSingleShot
	}
	switch o.Skip {
	case "":
		o.Skip = DefaultSkip
	case "-":
		o.Skip = ""
	}
	if o.LoadSeconds <= 0 {
		o.LoadSeconds = 60
	}
	if o.Soak <= 0 {
		o.Soak = 10 * time.Minute
	}
	if o.SoakRate <= 0 {
		o.SoakRate = 10
	}
	if o.Tasks <= 0 {
		o.Tasks = 100_000
	}
	if o.Settle <= 0 {
		o.Settle = 15 * time.Second
	}
	if o.Log == nil {
		o.Log = os.Stdout
	}
	l := &o.Live
	if l.Deadlines <= 0 {
		l.Deadlines = 100_000
	}
	if l.Spread <= 0 {
		l.Spread = 20 * time.Second
	}
	if l.Responders <= 0 {
		l.Responders = 1000
	}
	if l.TwilioLatency <= 0 {
		l.TwilioLatency = 50 * time.Millisecond
	}
	if l.LoadRate <= 0 {
		l.LoadRate = GoalLoadRate
	}
	if l.LoadFor <= 0 {
		l.LoadFor = 5 * time.Minute
	}
	if len(l.CapacityRates) == 0 {
		l.CapacityRates = DefaultCapacityRates
	}
	if l.CapacityFor <= 0 {
		l.CapacityFor = 20 * time.Second
	}
}

// DefaultCapacityRates are the command rates the capacity search tries,
// in order, until one misses the goal.
var DefaultCapacityRates = []float64{400, 600, 800, 1000, 1200, 1500, 2000}

// Run runs the benchmarks and the RSS measurements and writes the report.
// A benchmark that fails or misses its goal does not fail the run: the
// report says so. Run fails when it cannot measure or write at all.
func Run(ctx context.Context, o Options) (Report, error) {
	o.defaults()
	started := time.Now()
	logf := func(format string, args ...any) { fmt.Fprintf(o.Log, "benchreport: "+format+"\n", args...) }
	tmp, err := os.MkdirTemp("", "benchreport-")
	if err != nil {
		return Report{}, err
	}
	defer os.RemoveAll(tmp)

	r := Report{Date: started, Command: o.Command, Notes: o.Notes}
	url := o.RedisURL
	switch {
	case url != "":
		r.Redis = "the server at " + redactURL(url) + " (MUSTER_TEST_REDIS_URL)"
	case o.StartRedis:
		var stop func()
		url, stop, err = StartRedis(ctx, tmp)
		if err != nil {
			logf("no Redis started (%v): benchmarks run on the embedded server, RSS figures are skipped", err)
			r.Redis = "none: " + err.Error()
		} else {
			defer stop()
			r.Redis = "a redis-server started for this run on " + strings.TrimPrefix(url, "redis://") + " (persistence off, nothing else on it)"
			logf("started redis-server at %s", url)
		}
	default:
		r.Redis = "none: the benchmarks ran on the embedded server (set MUSTER_TEST_REDIS_URL)"
	}
	var rdb *redis.Client
	if url != "" {
		opt, err := redis.ParseURL(url)
		if err != nil {
			return r, fmt.Errorf("redis url: %w", err)
		}
		rdb = redis.NewClient(opt)
		defer rdb.Close()
	}
	r.Machine = ReadMachine(ctx, o.Go, rdbOrNil(rdb))
	r.Knobs = [][2]string{
		{"benchtime (BENCHTIME), except the single-shot benchmarks", o.BenchTime},
		{"single-shot benchmarks (-benchtime 1x)", "`" + o.SingleShot + "`"},
		{"in-process benchmarks left out (-skip; the measurements through the binary stand for them)", "`" + o.Skip + "`"},
		{"200 req/s load length (BENCH_LOAD_SECONDS → MUSTER_SLACK_LOAD_SECONDS)", strconv.Itoa(o.LoadSeconds) + " s"},
		{"open tasks for the RSS figure (BENCH_TASKS)", thousands(o.Tasks)},
		{"settle before each RSS reading (BENCH_SETTLE)", o.Settle.String()},
		{"soak length (BENCH_SOAK)", o.Soak.String()},
		{"soak rate (BENCH_SOAK_RATE)", trimFloat(o.SoakRate) + " commands/s"},
	}

	if o.SkipBench {
		r.Bench.Skipped = "skipped for this run (-skip-bench)"
	} else {
		env := append(os.Environ(), "MUSTER_TEST_REDIS_URL="+url, "MUSTER_SLACK_LOAD_SECONDS="+strconv.Itoa(o.LoadSeconds))
		skipAll := o.SingleShot
		var skipOne []string
		if o.Skip != "" {
			skipAll += "|" + o.Skip
			skipOne = []string{"-skip", o.Skip}
		}
		runs := [][]string{
			append(append([]string{"test", "-p", "1", "-count", "1", "-timeout", "40m", "-run", "^$", "-bench", o.SingleShot}, skipOne...), append([]string{"-benchtime", "1x", "-benchmem"}, o.Pkgs...)...),
			append([]string{"test", "-p", "1", "-count", "1", "-timeout", "40m", "-run", "^$", "-bench", ".", "-skip", skipAll, "-benchtime", o.BenchTime, "-benchmem"}, o.Pkgs...),
		}
		for _, args := range runs {
			shown := "MUSTER_TEST_REDIS_URL=" + redactURL(url) + " MUSTER_SLACK_LOAD_SECONDS=" + strconv.Itoa(o.LoadSeconds) + " " + o.Go + " " + shellJoin(args)
			r.GoTest = append(r.GoTest, shown)
			logf("running %s", shown)
			var buf bytes.Buffer
			cmd := exec.CommandContext(ctx, o.Go, args...)
			cmd.Dir, cmd.Env = o.ModuleDir, env
			cmd.Stdout = io.MultiWriter(&buf, o.Log)
			cmd.Stderr = cmd.Stdout
			if err := cmd.Run(); err != nil {
				var exit *exec.ExitError
				if !errors.As(err, &exit) {
					return r, fmt.Errorf("go test: %w", err)
				}
				logf("go test exited %d: the report lists what failed", exit.ExitCode())
			}
			parsed, err := Parse(&buf)
			if err != nil {
				return r, fmt.Errorf("parse go test output: %w", err)
			}
			r.Bench.Merge(parsed)
		}
	}

	var bin string
	if url != "" && (!o.SkipLive || !o.SkipRSS) {
		logf("building cmd/muster")
		if bin, err = BuildMuster(ctx, o.Go, o.ModuleDir, tmp); err != nil {
			return r, err
		}
	}
	switch {
	case o.SkipLive:
		r.LiveSkip = "skipped for this run (-skip-live)"
	case url == "":
		r.LiveSkip = "needs a real Redis (MUSTER_TEST_REDIS_URL or redis-server installed)"
	default:
		lo := o.Live
		lo.Bin, lo.RedisURL, lo.Dir, lo.Logf = bin, url, tmp, logf
		r.Live = RunLive(ctx, lo)
		r.LiveOptions = lo
	}

	switch {
	case o.SkipRSS:
		r.MemorySkip = "skipped for this run (-skip-rss)"
	case url == "":
		r.MemorySkip = "needs a real Redis (MUSTER_TEST_REDIS_URL or redis-server installed)"
	default:
		mem, err := measureMemory(ctx, o, bin, url, tmp, logf)
		if err != nil {
			r.MemorySkip = err.Error()
			logf("memory: %v", err)
		} else {
			r.Memory = mem
		}
	}
	r.LoadEnd = LoadAvg()
	r.Duration = time.Since(started)
	if err := os.MkdirAll(filepath.Dir(o.Out), 0o755); err != nil {
		return r, err
	}
	old, _ := os.ReadFile(o.Out)
	if err := os.WriteFile(o.Out, []byte(Compose(Render(r), string(old), r.Machine.CPUName())), 0o644); err != nil {
		return r, err
	}
	logf("wrote %s in %s; every goal beside its figure:\n\n%s", o.Out, r.Duration.Round(time.Second), SummaryTable(r))
	return r, ctx.Err()
}

// rdbOrNil keeps a nil *redis.Client from becoming a non-nil interface.
func rdbOrNil(c *redis.Client) redis.UniversalClient {
	if c == nil {
		return nil
	}
	return c
}

// measureMemory builds muster and measures its RSS idle, with Tasks open
// tasks, and over the soak, each in a fresh namespace it removes after.
func measureMemory(ctx context.Context, o Options, bin, url, tmp string, logf func(string, ...any)) (*Memory, error) {
	fake := fakeslack.New(liveBotToken)
	slackSrv := httptest.NewServer(fake)
	defer slackSrv.Close()
	mem := &Memory{Tasks: o.Tasks, Settle: o.Settle, SoakDuration: o.Soak, SoakRate: o.SoakRate, Warmup: min(time.Minute, o.Soak/5)}

	start := func() (*Serve, *store.Store, string, func(), error) {
		return startExample(ctx, bin, url, tmp, slackSrv.URL+"/api/", logf)
	}
	client := func(s *Serve) *SlackClient {
		return &SlackClient{URL: s.URL, Secret: liveSecret, ResponseURL: func() string { return fake.ResponseURL(slackSrv.URL) }}
	}

	// Idle, then with the open tasks, in one process.
	s, st, ns, done, err := start()
	if err != nil {
		return nil, err
	}
	logf("muster serve (pid %d) at %s, namespace %s: idle for %s", s.PID(), s.URL, ns, o.Settle)
	if err := wait(ctx, o.Settle); err != nil {
		done()
		return nil, err
	}
	mem.Idle, mem.IdleHWM, mem.IdleErr = s.RSS()
	logf("idle RSS %s (peak %s)", MB(mem.Idle), MB(mem.IdleHWM))
	mem.TasksErr = func() error {
		took, err := LoadOpenTasks(ctx, st, o.Tasks, time.Now().Add(time.Hour), time.Hour)
		if err != nil {
			return err
		}
		mem.LoadTook = took
		logf("loaded %d open tasks in %s", o.Tasks, took.Round(time.Millisecond))
		c := client(s)
		for _, cmd := range []struct{ user, command, text string }{
			{"U0AMARA", "/muster", "status"}, {"U0BEN", "/muster", "status"}, {"U0FARID", "/plan", "status"},
			{"U0FARID", "/incident", "raise intrusion sev3 @harbour bench: gate sensor fault"}, {"U0FARID", "/roster", "@harbour"},
		} {
			_, took, err := c.Command(ctx, cmd.user, "C0HARBOUR", cmd.command, cmd.text)
			line := strings.TrimSpace(cmd.command + " " + cmd.text)
			if err != nil {
				return fmt.Errorf("%s over the open tasks: %w", line, err)
			}
			mem.TaskCommands = append(mem.TaskCommands, fmt.Sprintf("`%s` (%s) in %s", line, strings.ToLower(cmd.user[2:]), took.Round(10*time.Microsecond)))
		}
		if err := wait(ctx, o.Settle); err != nil {
			return err
		}
		mem.WithTasks, mem.WithTasksHWM, err = s.RSS()
		if err != nil {
			return err
		}
		mem.Pending, err = st.Client().ZCard(ctx, st.Key("timers")).Result()
		if err != nil {
			return fmt.Errorf("count pending timers: %w", err)
		}
		logf("RSS with %d open tasks %s (peak %s), %d timers pending", o.Tasks, MB(mem.WithTasks), MB(mem.WithTasksHWM), mem.Pending)
		return nil
	}()
	done()

	// The soak, in a fresh process and namespace.
	s, _, ns, done, err = start()
	if err != nil {
		mem.SoakErr = err
		return mem, nil
	}
	logf("soak: muster serve (pid %d), namespace %s, %s at %s commands/s", s.PID(), ns, o.Soak, trimFloat(o.SoakRate))
	mem.Soak, mem.SoakErr = Soak(ctx, SoakOptions{Client: client(s), Duration: o.Soak, Rate: o.SoakRate, Sample: 5 * time.Second,
		RSS: func() (int64, error) { rss, _, err := s.RSS(); return rss, err },
		Progress: func(at time.Duration, rss int64, sent int) {
			if at.Round(time.Second)%time.Minute < 5*time.Second {
				logf("soak %s: RSS %s, %d commands", at.Round(time.Second), MB(rss), sent)
			}
		}})
	done()
	if exited, err := s.Exited(); exited && err != nil && mem.SoakErr == nil {
		mem.SoakErr = fmt.Errorf("muster serve: %w", err)
	}
	mem.SoakLog, _ = SummarizeLog(s.LogPath)
	_, _, growth := soakGrowth(mem)
	logf("soak done: %d commands, %d failed, %d unexpected; RSS growth %s", mem.Soak.Sent, mem.Soak.Failed, mem.Soak.Unexpected, signedMB(growth))
	return mem, nil
}

// startExample starts muster serve on the example configuration in a
// fresh namespace, Slack's API at slackAPI, Twilio off and no audit key,
// with the store of that namespace. stop ends it and removes the
// namespace.
func startExample(ctx context.Context, bin, redisURL, dir, slackAPI string, logf func(string, ...any)) (s *Serve, st *store.Store, ns string, stop func(), err error) {
	ns = NewNamespace()
	cfg, err := WriteConfig(dir, ns, slackAPI)
	if err != nil {
		return nil, nil, "", nil, err
	}
	st, err = store.Open(ctx, store.Options{URL: redisURL, Namespace: ns})
	if err != nil {
		return nil, nil, "", nil, fmt.Errorf("open namespace %s: %w", ns, err)
	}
	s, err = StartServe(ctx, ServeOptions{Bin: bin, Config: cfg, RedisURL: redisURL, SlackBotToken: liveBotToken,
		SlackSigningSecret: liveSecret, LogPath: filepath.Join(dir, ns+".log")})
	if err != nil {
		_ = st.Close()
		return nil, nil, "", nil, err
	}
	stop = func() {
		s.Stop()
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := st.DeleteAll(cctx); err != nil {
			logf("remove namespace %s: %v", ns, err)
		}
		_ = st.Close()
	}
	return s, st, ns, stop, nil
}

// wait waits d or until ctx ends.
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// StartRedis starts a redis-server on a free loopback port with
// persistence off, in dir, and waits until it answers PING. stop kills it.
func StartRedis(ctx context.Context, dir string) (url string, stop func(), err error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, errors.New("redis-server is not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--logfile", filepath.Join(dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop = func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	url = "redis://127.0.0.1:" + strconv.Itoa(port) + "/0"
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c.Ping(ctx).Err() == nil {
			return url, stop, nil
		}
		select {
		case <-exited:
			return "", nil, errors.New("redis-server exited at start")
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, errors.New("redis-server did not answer PING within 15s")
		}
		if err := wait(ctx, 50*time.Millisecond); err != nil {
			stop()
			return "", nil, err
		}
	}
}

// redactURL hides a password in a Redis URL.
func redactURL(u string) string {
	if u == "" {
		return "(embedded)"
	}
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		return scheme + "://***@" + rest[at+1:]
	}
	return u
}

// shellJoin quotes args for a shell where needed.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " ^$*()|[]{}?\\'\"") {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		} else {
			out[i] = a
		}
	}
	return strings.Join(out, " ")
}
