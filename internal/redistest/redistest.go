// Package redistest starts real redis-server processes for tests: a
// 3-master Redis Cluster (StartCluster; StartClusterWith gives each master
// replicas, and KillMaster plays a failover) and a primary, its replicas
// and one Sentinel (StartSentinel; KillPrimary). Each returns the URL muster's store takes
// (store.NewClient), so the same tests run on a single server, a Cluster
// and Sentinel.
//
// Servers run on random free loopback ports in the test's temp dir, with
// persistence off, and are killed in t.Cleanup. Every start-up wait polls
// a condition (PING answers, cluster_state:ok, the replica in sync) under
// a deadline; nothing sleeps blind.
//
// When redis-server is not installed the test is skipped with a message
// that says so, unless MUSTER_TEST_REQUIRE_REDIS_SERVER=1 (CI sets it),
// which makes it fail instead.
package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvRequire names the variable that turns a missing redis-server into a
// test failure instead of a skip.
const EnvRequire = "MUSTER_TEST_REQUIRE_REDIS_SERVER"

// startTimeout bounds each start-up wait (a process answering, a cluster
// agreeing, a replica syncing).
const startTimeout = 15 * time.Second

// Server is one redis-server (or sentinel) process started by a test.
type Server struct {
	// Addr is host:port on loopback.
	Addr string
	// Dir is the server's working directory (config, logs, data).
	Dir string

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	log  string        // path of the server's log file
	// mu guards killed.
	mu     sync.Mutex
	killed bool
}

// binary finds redis-server, or skips (fails under EnvRequire) the test.
func binary(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "redis-server is not installed (apt-get install redis-server): skipping the real Redis Cluster/Sentinel test"
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("%s, but %s=1", msg, EnvRequire)
		}
		t.Skip(msg)
	}
	return p
}

// freePort returns a loopback port nobody listens on right now. Another
// process may take it before redis-server binds it; start retries then.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start runs redis-server with the config lines conf (port and dir are
// added here) and waits until it answers PING. extra are command-line
// arguments after the config file (e.g. "--sentinel"). It retries on a
// fresh port when the chosen one was taken meanwhile.
func start(t testing.TB, name string, conf func(port int) []string, extra ...string) *Server {
	t.Helper()
	bin := binary(t)
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("redistest: free port: %v", err)
		}
		dir := filepath.Join(t.TempDir(), name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		lines := []string{
			"port " + strconv.Itoa(port),
			"bind 127.0.0.1",
			"dir " + dir,
			"logfile " + filepath.Join(dir, "redis.log"),
			"daemonize no",
		}
		if !slices.Contains(extra, "--sentinel") {
			lines = append(lines, `save ""`, "appendonly no")
		}
		lines = append(lines, conf(port)...)
		cfgPath := filepath.Join(dir, "redis.conf")
		if err := os.WriteFile(cfgPath, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Dir: dir,
			log: filepath.Join(dir, "redis.log"), done: make(chan struct{})}
		s.cmd = exec.Command(bin, append([]string{cfgPath}, extra...)...)
		if err := s.cmd.Start(); err != nil {
			t.Fatalf("redistest: start %s: %v", bin, err)
		}
		go func() { _ = s.cmd.Wait(); close(s.done) }()
		t.Cleanup(s.Kill)
		if lastErr = s.waitPing(); lastErr == nil {
			return s
		}
		s.Kill()
	}
	t.Fatalf("redistest: %s did not start: %v", name, lastErr)
	return nil
}

// waitPing waits until the server answers PING, or fails early when the
// process exits (a port clash, a bad config).
func (s *Server) waitPing() error {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	return poll(startTimeout, func(ctx context.Context) (bool, error) {
		select {
		case <-s.done:
			return false, &fatalError{fmt.Errorf("redis-server on %s exited: %s", s.Addr, s.tail())}
		default:
		}
		return c.Ping(ctx).Err() == nil, nil
	})
}

// tail is the end of the server's log, for failure messages.
func (s *Server) tail() string {
	b, _ := os.ReadFile(s.log)
	if len(b) > 1500 {
		b = b[len(b)-1500:]
	}
	return string(b)
}

// Kill stops the process with SIGKILL (no shutdown, no save) and waits for
// it to exit. It is safe to call more than once.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.killed {
		return
	}
	s.killed = true
	_ = s.cmd.Process.Kill()
	<-s.done
}

// dead reports whether Kill was called.
func (s *Server) dead() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.killed
}

// Client returns a plain client to this one process (for set-up and
// checks); the caller closes it.
func (s *Server) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
}

// poll calls cond every 20ms until it reports true, returns an error, or
// timeout passes.
func poll(timeout time.Duration, cond func(ctx context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		ok, err := cond(cctx)
		ccancel()
		if ok {
			return nil
		}
		if err != nil {
			var fatal *fatalError
			if errors.As(err, &fatal) {
				return fatal.err
			}
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("timed out after %v: %w", timeout, last)
			}
			return fmt.Errorf("timed out after %v", timeout)
		case <-tick.C:
		}
	}
}

// pollCtx is poll bounded by ctx's deadline (30 s when it has none).
func pollCtx(ctx context.Context, cond func(ctx context.Context) (bool, error)) error {
	timeout := 30 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	return poll(timeout, cond)
}

// Failover is a primary (or a Cluster master) killed with SIGKILL, whose
// replica Redis is to promote.
type Failover struct {
	// Killed is the server killed, at KilledAt.
	Killed   *Server
	KilledAt time.Time
	// PromotedAt is when the test first saw a replica report itself
	// primary (within the 20 ms it polls); set by Promoted.
	PromotedAt time.Time
	wait       func(ctx context.Context) (*Server, error)
}

// Promoted waits until Redis has promoted a replica and it serves, and
// returns it. PromotedAt is set then.
func (f *Failover) Promoted(ctx context.Context) (*Server, error) { return f.wait(ctx) }

// fatalError stops poll at once.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
