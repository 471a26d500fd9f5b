package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/metrics"
)

// serveBanner runs muster serve with args until ctx ends and returns its
// base URL (from the "muster serving on http://..." line) and its exit
// code channel.
func serveBase(ctx context.Context, t *testing.T, args []string, stderr io.Writer) (string, <-chan int) {
	t.Helper()
	pr, pw := io.Pipe()
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, args, strings.NewReader(""), pw, stderr)
		pw.Close()
	}()
	r := bufio.NewReader(pr)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("no banner: %v", err)
		}
		// "muster serving on http://127.0.0.1:PORT (platforms: ...)"
		if f := strings.Fields(line); len(f) >= 4 && f[0] == "muster" && f[1] == "serving" && strings.HasPrefix(f[3], "http://") {
			go io.Copy(io.Discard, r)
			return f[3], code
		}
	}
}

// get fetches base+path and returns the status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// muster serve --demo runs the example organization in memory, says so
// at start and in /readyz, answers health and readiness, then stops
// cleanly when its context ends (as on SIGINT or SIGTERM) with exit 0.
func TestServeDemoStartsAndStopsCleanly(t *testing.T) {
	t.Setenv(EnvConfig, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr strings.Builder
	base, code := serveBase(ctx, t, []string{"serve", "--demo", "--listen", "127.0.0.1:0", "--log-level", "error"}, &stderr)
	if status, _ := get(t, base+"/healthz"); status != 200 {
		t.Fatalf("/healthz = %d", status)
	}
	if status, body := get(t, base+"/readyz"); status != 200 || !strings.Contains(body, "demo mode: state lives in memory only") {
		t.Fatalf("/readyz = %d %q, want 200 and the demo warning", status, body)
	}
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("serve exited %d; stderr: %s", c, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop within 20s")
	}
}

// With its config and its Redis, serve is ready, with no demo warning.
func TestServeWithConfigAndRedis(t *testing.T) {
	o := newOrg(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base, code := serveBase(ctx, t, []string{"serve", "--config", o.config, "--redis", o.redisURL(t),
		"--listen", "127.0.0.1:0", "--log-level", "error"}, io.Discard)
	if status, body := get(t, base+"/readyz"); status != 200 || strings.Contains(body, "demo") {
		t.Fatalf("/readyz = %d %q, want 200 without a demo warning", status, body)
	}
	// Every muster series is on the first scrape, with no platform on.
	status, body := get(t, base+"/metrics")
	if status != 200 {
		t.Fatalf("/metrics = %d", status)
	}
	for _, name := range metrics.Names() {
		if !strings.Contains(body, "\n"+name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	for _, want := range []string{`muster_http_requests_total{code="200",handler="/readyz",method="get"} 1`,
		`muster_build_info{goversion="` + runtime.Version() + `"`, "muster_deadlines_pending 0", "muster_degraded 0"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	cancel()
	if c := <-code; c != 0 {
		t.Fatalf("serve exited %d", c)
	}
}

// Without a config or a Redis URL, serve refuses to start (exit 2) and
// names what to set: it never pages the example's people from memory
// unless asked to with --demo.
func TestServeNeedsConfigAndRedis(t *testing.T) {
	o := newOrg(t)
	t.Setenv(EnvConfig, "")
	for _, tc := range []struct {
		name string
		env  string // MUSTER_CONFIG
		args []string
		want string
	}{
		{"nothing", "", []string{"serve"}, "no configuration: set --config FILE or MUSTER_CONFIG (or --demo"},
		{"no redis", "", []string{"serve", "--config", o.config}, "no Redis URL: set --redis URL, redis.url or MUSTER_REDIS_URL"},
		{"config from the environment, no redis", o.config, []string{"serve"}, "no Redis URL"},
		{"demo with redis", "", []string{"serve", "--demo", "--redis", "redis://127.0.0.1:6379"}, "--demo keeps state in memory; leave out --redis"},
		{"stray argument", "", []string{"serve", "--demo", "now"}, `unexpected argument "now"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvConfig, tc.env)
			r := muster(t, "", tc.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("muster %v: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
			}
		})
	}
}

// The record commands read a real organization's records: without its
// config or its Redis they exit 2 (an empty in-memory store would verify
// as "ok 0 events"); verifying an export file needs neither.
func TestRecordCommandsNeedConfigAndRedis(t *testing.T) {
	o := newOrg(t)
	t.Setenv(EnvConfig, "")
	for _, args := range [][]string{
		{"audit", "verify"},
		{"audit", "export"},
		{"report", "review", "--from", "2026-02-01", "--to", "2026-02-28"},
		{"report", "incident", "INC-1"},
		{"records", "prune", "--dry-run"},
	} {
		r := muster(t, "", args...)
		if r.code != 2 || !strings.Contains(r.stderr, "no configuration: set --config FILE or MUSTER_CONFIG") {
			t.Errorf("muster %v: exit %d, stderr %q; want 2 asking for the config", args, r.code, r.stderr)
		}
		r = muster(t, "", append(args, "--config", o.config)...)
		if r.code != 2 || !strings.Contains(r.stderr, "no Redis URL") || strings.Contains(r.stdout, "ok") {
			t.Errorf("muster %v --config: exit %d, stdout %q, stderr %q; want 2 asking for the Redis URL", args, r.code, r.stdout, r.stderr)
		}
	}
	export := t.TempDir() + "/empty.jsonl"
	if err := os.WriteFile(export, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := muster(t, "", "audit", "verify", "--file", export); r.code != 0 {
		t.Errorf("audit verify --file: exit %d, stderr %q; want 0 without a config or Redis", r.code, r.stderr)
	}
}

// --log-format text makes serve log readable lines; a format it does not
// know is a usage error.
func TestServeLogFormat(t *testing.T) {
	t.Setenv(EnvConfig, "")
	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	_, code := serveBase(ctx, t, []string{"serve", "--demo", "--listen", "127.0.0.1:0", "--log-format", "text"}, &stderr)
	cancel()
	<-code
	if out := stderr.String(); !strings.Contains(out, "WARN\tdemo mode: state lives in memory only") || strings.Contains(out, `{"level"`) {
		t.Errorf("--log-format text logged:\n%s", out)
	}
	r := muster(t, "", "serve", "--demo", "--log-format", "xml")
	if r.code != 2 || !strings.Contains(r.stderr, `log format "xml": want json or text`) {
		t.Errorf("--log-format xml: exit %d, stderr %q", r.code, r.stderr)
	}
}

// syncBuffer is a strings.Builder safe for the writes of a running
// process and the reads of a test.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
