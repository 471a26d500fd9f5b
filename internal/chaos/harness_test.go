package chaos

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/muster-ops/muster/bot/slack"
	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/fakeslack"
	"github.com/muster-ops/muster/internal/faketwilio"
)

// EnvChaos turns the chaos tests on.
const EnvChaos = "MUSTER_CHAOS"

const (
	slackBot    = "xoxb-chaos"
	slackSecret = "chaos-signing-secret"
	twilioSID   = "AC00000000000000000000000000000c4a"
	twilioToken = "chaosauthtoken0123456789"
	namespace   = "chaos"
)

// needChaos skips the test unless MUSTER_CHAOS=1 and redis-server is
// installed.
func needChaos(t *testing.T) {
	t.Helper()
	if os.Getenv(EnvChaos) != "1" {
		t.Skipf("chaos tests run only with %s=1 (make chaos)", EnvChaos)
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("chaos tests need redis-server on the PATH")
	}
}

// freePort returns a loopback port nobody listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitUntil checks cond every 20 ms until it holds or d has passed.
func waitUntil(ctx context.Context, d time.Duration, cond func() bool) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return cond()
		case <-tick.C:
		}
	}
	return true
}

// The muster binary, built once for every test of the package.
var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
	buildDir  string
)

// TestMain removes the binary after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// buildMuster builds the muster binary, once.
func buildMuster(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "muster-chaos-bin-"); buildErr != nil {
			return
		}
		builtBin = filepath.Join(buildDir, "muster")
		cmd := exec.Command("go", "build", "-o", builtBin, "github.com/muster-ops/muster/cmd/muster")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// redisServer is one redis-server with AOF on, restartable on its file.
type redisServer struct {
	t    *testing.T
	dir  string
	port int
	cmd  *exec.Cmd
	log  *os.File
}

func startRedis(t *testing.T, dir string) *redisServer {
	r := &redisServer{t: t, dir: dir, port: freePort(t)}
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisServer) start() {
	r.t.Helper()
	log, err := os.OpenFile(filepath.Join(r.dir, "redis.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		r.t.Fatal(err)
	}
	r.log = log
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--dir", r.dir, "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--protected-mode", "no")
	r.cmd.Stdout, r.cmd.Stderr = log, log
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port)})
	defer c.Close()
	if !waitUntil(context.Background(), 10*time.Second, func() bool {
		return c.Ping(context.Background()).Err() == nil
	}) {
		r.t.Fatalf("redis-server on %d did not answer", r.port)
	}
}

// kill ends Redis with SIGKILL: with appendfsync always, every write it
// acknowledged is in the append-only file.
func (r *redisServer) kill() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
	_ = r.log.Close()
}

// door stands between one replica and a fake vendor: it forwards each
// request, counts what is in flight, and when held keeps requests at
// the door (in flight for the replica, not yet seen by the vendor) until
// released or the replica goes away.
type door struct {
	proxy *httputil.ReverseProxy
	// mu guards the fields that follow.
	mu       sync.Mutex
	holding  bool
	release  *gate
	waiting  int
	arrived  chan struct{} // closed and renewed when a request waits
	inFlight int
	sent     []sent
	dropped  []sent // held requests whose replica died: never sent
	// answers, when set, keeps the vendor's answers to requests matched
	// by answersOf (the vendor has acted on them) until it is closed or
	// the replica dies: the at-least-once window, held open.
	answers   chan struct{}
	answersOf func(path string) bool
	heldAns   int
	lostAns   []sent // answers held for a replica that died
}

// gate is one hold of a door: closing ch lets the held requests go on,
// to the vendor, or (reject, set before ch is closed) back to their
// replica with a 503 the vendor never saw.
type gate struct {
	ch     chan struct{}
	reject bool
}

func newGate() *gate { return &gate{ch: make(chan struct{})} }

// sent is one request the door passed to the vendor.
type sent struct {
	At     time.Time
	Path   string
	Form   url.Values
	Status int
}

func newDoor(target string) *door {
	u, _ := url.Parse(target)
	d := &door{proxy: httputil.NewSingleHostReverseProxy(u), release: newGate(), arrived: make(chan struct{})}
	d.proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
		http.Error(w, err.Error(), http.StatusBadGateway)
	}
	return d
}

func (d *door) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Read the body first: only then does the server watch the
	// connection, so a held request's context ends when its replica dies
	// (and it is never let through to the vendor).
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	d.mu.Lock()
	if d.holding {
		rel := d.release
		d.waiting++
		d.signal()
		d.mu.Unlock()
		select {
		case <-rel.ch:
		case <-r.Context().Done():
		}
		if r.Context().Err() != nil || rel.reject {
			// The replica is gone, or the hold ends in a refusal: the
			// vendor never sees this request.
			form, _ := url.ParseQuery(string(body))
			d.mu.Lock()
			d.waiting--
			d.dropped = append(d.dropped, sent{At: time.Now(), Path: r.URL.Path, Form: form})
			d.mu.Unlock()
			if r.Context().Err() == nil {
				http.Error(w, "held at the chaos door and refused", http.StatusServiceUnavailable)
			}
			return
		}
		d.mu.Lock()
		d.waiting--
	}
	d.inFlight++
	d.mu.Unlock()
	form, _ := url.ParseQuery(string(body))
	at := time.Now()
	// The request goes on even if the replica dies now: a real vendor
	// that has the request acts on it.
	rec := httptest.NewRecorder()
	d.proxy.ServeHTTP(rec, r.WithContext(context.WithoutCancel(r.Context())))
	d.mu.Lock()
	d.inFlight--
	d.sent = append(d.sent, sent{At: at, Path: r.URL.Path, Form: form, Status: rec.Code})
	hold := d.answers
	if hold != nil && (d.answersOf == nil || d.answersOf(r.URL.Path)) && rec.Code < 300 {
		d.heldAns++
		d.signal()
	} else {
		hold = nil
	}
	d.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
		}
		d.mu.Lock()
		d.heldAns--
		if r.Context().Err() != nil {
			// The replica died with the vendor's answer on its way: the
			// vendor has the request, the replica never learnt it.
			d.lostAns = append(d.lostAns, sent{At: at, Path: r.URL.Path, Form: form, Status: rec.Code})
		}
		d.mu.Unlock()
		if r.Context().Err() != nil {
			return
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// signal wakes waitHeld and waitAnswers; d.mu is held.
func (d *door) signal() {
	close(d.arrived)
	d.arrived = make(chan struct{})
}

// holdAnswers keeps the vendor's answers to the requests whose path
// matches (nil: every request) from the replica, until releaseAnswers:
// the vendor acts on each request, the replica does not hear so.
func (d *door) holdAnswers(match func(path string) bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.answers == nil {
		d.answers = make(chan struct{})
	}
	d.answersOf = match
}

// releaseAnswers sends the held answers on and stops holding them.
func (d *door) releaseAnswers() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.answers != nil {
		close(d.answers)
		d.answers = nil
	}
}

// waitAnswers waits until n answers are held.
func (d *door) waitAnswers(ctx context.Context, n int) error {
	for {
		d.mu.Lock()
		h, ch := d.heldAns, d.arrived
		d.mu.Unlock()
		if h >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%d answers held, want %d: %w", h, n, ctx.Err())
		}
	}
}

// answersHeld is how many answers wait at the door now.
func (d *door) answersHeld() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.heldAns
}

// answersLost is what the vendor did for a replica that died before it
// heard the answer.
func (d *door) answersLost() []sent {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]sent(nil), d.lostAns...)
}

// log is what the door passed to the vendor.
func (d *door) log() []sent {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]sent(nil), d.sent...)
}

// hold keeps new requests at the door.
func (d *door) hold() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.holding = true
}

// open lets held requests through and stops holding.
func (d *door) open() { d.end(false) }

// refuse answers the held requests 503 without passing them to the
// vendor (their replica retries them), and stops holding.
func (d *door) refuse() { d.end(true) }

func (d *door) end(reject bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.holding {
		d.holding = false
		d.release.reject = reject
		close(d.release.ch)
		d.release = newGate()
	}
}

// waitHeld waits until n requests wait at the door.
func (d *door) waitHeld(ctx context.Context, n int) error {
	for {
		d.mu.Lock()
		w, ch := d.waiting, d.arrived
		d.mu.Unlock()
		if w >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%d requests held, want %d: %w", w, n, ctx.Err())
		}
	}
}

// replica is one `muster serve` process.
type replica struct {
	t      *testing.T
	name   string
	bin    string
	cfg    string
	addr   string
	redis  string
	logs   string
	twilio *door
	slack  *door
	cmd    *exec.Cmd
	// exited is closed when the process has been waited for.
	exited chan struct{}
}

// world is the chaos test's setting: one Redis, the fakes, the replicas.
type world struct {
	t        *testing.T
	dir      string
	bin      string
	redis    *redisServer // nil when the test brought its own Redis
	url      string       // the Redis URL the replicas use
	tw       *faketwilio.Server
	sl       *fakeslack.Server
	twSrv    *httptest.Server
	slSrv    *httptest.Server
	replicas []*replica
	// kills lists the kills, for a duplicate's explanation.
	kills    []string
	killedAt []time.Time // replica kills
}

// configYAML is the example organization with a fast policy and plan,
// the fakes' addresses and a short engine lease.
func configYAML(t *testing.T, publicURL, twilioURL, slackURL, journal string) []byte {
	t.Helper()
	head := string(configs.ExampleYAML())
	i := strings.Index(head, "\npolicies:")
	if i < 0 {
		t.Fatal("example.yaml has no policies section")
	}
	head = strings.Replace(head[:i+1], "namespace: northgate", "namespace: "+namespace, 1)
	return []byte(head + fmt.Sprintf(`policies:
  - id: chaos
    steps:
      - {notify: [chat, sms], wait: 3s}
      - {notify: [voice], wait: 3s}
      - {escalate_to: {role: supervisor}, notify: [sms], wait: 3s}
    repeat: 0
  - id: slow
    steps:
      - {notify: [chat], wait: 10m}
    repeat: 0

plans:
  - id: chaos
    name: Chaos drill, live
    version: 1
    triggered_by: [supervisor]
    target: 1m
    broadcast: "CHAOS: every task escalates to the end."
    tasks:
      - {title: Sweep the floors, role: guard, policy: chaos}
      - {title: Take the roll call, role: supervisor, policy: chaos}
      - {title: Call the fire service, role: control, policy: chaos}
  - id: hold
    name: Chaos drill, tasks to acknowledge
    version: 1
    triggered_by: [supervisor]
    target: 1m
    broadcast: "CHAOS: every task escalates to the end."
    tasks:
      - {title: Hold the gate, role: guard, policy: slow}
      - {title: Hold the door, role: supervisor, policy: slow}

server:
  listen: 127.0.0.1:0
  public_url: %s
  journal: %s

slack:
  api_url: %s/api/
twilio:
  api_url: %s
  from: "+447700900999"
  rate: 50
engine:
  # The deliverer's lease too: it must outlast the longest send.
  lease: 4s
`, publicURL, journal, slackURL, twilioURL))
}

// worldOptions shape a world.
type worldOptions struct {
	// replicas is how many `muster serve` processes run.
	replicas int
	// redisURL, when set, is the Redis the replicas share (a Cluster or a
	// Sentinel the test started); otherwise the world starts one
	// redis-server with AOF on.
	redisURL string
}

// newWorld is n replicas on one AOF Redis.
func newWorld(t *testing.T, n int) *world {
	t.Helper()
	return newWorldWith(t, worldOptions{replicas: n})
}

func newWorldWith(t *testing.T, o worldOptions) *world {
	t.Helper()
	dir := t.TempDir()
	if os.Getenv("MUSTER_CHAOS_KEEP") == "1" {
		// Keep the replicas' and Redis's logs for a post-mortem.
		var err error
		if dir, err = os.MkdirTemp("", "muster-chaos-"); err != nil {
			t.Fatal(err)
		}
		t.Logf("logs kept in %s", dir)
	}
	w := &world{t: t, dir: dir, url: o.redisURL}
	w.bin = buildMuster(t)
	if w.url == "" {
		rdir := filepath.Join(dir, "redis")
		if err := os.Mkdir(rdir, 0o700); err != nil {
			t.Fatal(err)
		}
		w.redis = startRedis(t, rdir)
		w.url = w.redis.url()
	}
	w.tw = faketwilio.New(twilioSID, twilioToken)
	w.twSrv = httptest.NewServer(w.tw)
	t.Cleanup(w.twSrv.Close)
	t.Cleanup(w.tw.Close)
	w.sl = fakeslack.New(slackBot)
	w.slSrv = httptest.NewServer(w.sl)
	t.Cleanup(w.slSrv.Close)
	for i := range o.replicas {
		r := &replica{t: t, name: fmt.Sprintf("r%d", i), bin: w.bin, redis: w.url,
			addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), twilio: newDoor(w.twSrv.URL), slack: newDoor(w.slSrv.URL),
			logs: filepath.Join(dir, fmt.Sprintf("r%d.log", i))}
		tws := httptest.NewServer(r.twilio)
		t.Cleanup(tws.Close)
		sls := httptest.NewServer(r.slack)
		t.Cleanup(sls.Close)
		r.cfg = filepath.Join(dir, r.name+".yaml")
		if err := os.WriteFile(r.cfg, configYAML(t, "http://"+r.addr, tws.URL, sls.URL, filepath.Join(dir, r.name+"-journal.jsonl")), 0o600); err != nil {
			t.Fatal(err)
		}
		w.replicas = append(w.replicas, r)
	}
	for _, r := range w.replicas {
		r.start()
	}
	t.Cleanup(func() {
		for _, r := range w.replicas {
			r.twilio.open()
			r.slack.open()
			r.twilio.releaseAnswers()
			r.slack.releaseAnswers()
			r.stop()
		}
	})
	return w
}

// start runs the replica and waits until it answers /healthz.
func (r *replica) start() {
	r.t.Helper()
	logf, err := os.OpenFile(r.logs, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		r.t.Fatal(err)
	}
	fmt.Fprintf(logf, "=== start %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(r.bin, "serve", "--config", r.cfg, "--redis", r.redis, "--listen", r.addr, "--log-level", "info")
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"SLACK_BOT_TOKEN=" + slackBot, "SLACK_SIGNING_SECRET=" + slackSecret,
		"TWILIO_ACCOUNT_SID=" + twilioSID, "TWILIO_AUTH_TOKEN=" + twilioToken,
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = filepath.Dir(r.logs)
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("%s: %v", r.name, err)
	}
	r.cmd = cmd
	r.exited = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = logf.Close()
		close(r.exited)
	}()
	c := &http.Client{Timeout: time.Second}
	if !waitUntil(context.Background(), 20*time.Second, func() bool {
		select {
		case <-r.exited:
			return true
		default:
		}
		resp, err := c.Get("http://" + r.addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}) {
		r.t.Fatalf("%s did not come up; log %s", r.name, r.logs)
	}
	select {
	case <-r.exited:
		r.t.Fatalf("%s exited at start; log %s:\n%s", r.name, r.logs, tail(r.logs))
	default:
	}
}

// kill9 ends the replica with SIGKILL.
func (r *replica) kill9() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.exited
	r.cmd = nil
}

// stop ends the replica gracefully (SIGTERM), or with SIGKILL after 10 s.
func (r *replica) stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		r.kill9()
	}
	r.cmd = nil
}

// slash posts a signed slash command to the replica's /slack/commands
// and returns the answer's text.
func (w *world) slash(r *replica, user, channel, command, text string) (string, error) {
	form := url.Values{"command": {command}, "text": {text}, "user_id": {user}, "channel_id": {channel},
		"team_id": {"T0CHAOS"}, "response_url": {w.sl.ResponseURL(w.slSrv.URL)},
		"trigger_id": {strconv.FormatInt(time.Now().UnixNano(), 10)}}
	body := []byte(form.Encode())
	ts := time.Now().Unix()
	req, err := http.NewRequest(http.MethodPost, "http://"+r.addr+"/slack/commands", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Slack-Signature", slack.Sign(slackSecret, ts, body))
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s %s: HTTP %d %s", command, text, resp.StatusCode, b)
	}
	return string(b), nil
}

// tail returns the last lines of a file, for a failure's message.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}

// flying is how many requests passed the door and await the vendor.
func (d *door) flying() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.inFlight
}

// held is how many requests wait at the door.
func (d *door) held() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.waiting
}

// lostAtDoor is what the door held for a replica that died.
func (d *door) lostAtDoor() []sent {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]sent(nil), d.dropped...)
}

// ready reports whether the replica answers /readyz (its Redis reachable).
func (r *replica) ready() bool {
	resp, err := (&http.Client{Timeout: time.Second}).Get("http://" + r.addr + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
