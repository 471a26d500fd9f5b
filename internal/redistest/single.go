package redistest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// Single is one standalone redis-server that a test can take away and
// bring back on the same port, to play a Redis outage: Kill (the process
// dies; connections are refused), Pause (SIGSTOP: connections hang, as
// with a dead host) and Restart/Resume. Its data is kept in an
// append-only file fsync'd on every write, so it survives Kill as a
// production Redis with AOF does.
type Single struct {
	// Addr is host:port on loopback; it stays the same across restarts.
	Addr string
	// Dir holds the config, the log and the data.
	Dir string

	t    testing.TB
	bin  string
	port int
	// mu guards cur and paused.
	mu     sync.Mutex
	cur    *Server
	paused bool
}

// StartSingle starts one redis-server on a free loopback port and waits
// until it answers. It is killed in t.Cleanup. Without redis-server the
// test is skipped (failed under MUSTER_TEST_REQUIRE_REDIS_SERVER=1).
func StartSingle(t testing.TB) *Single {
	t.Helper()
	s := &Single{t: t, bin: binary(t), Dir: filepath.Join(t.TempDir(), "single")}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("redistest: free port: %v", err)
		}
		s.port = port
		s.Addr = "127.0.0.1:" + strconv.Itoa(port)
		if lastErr = s.run(); lastErr == nil {
			t.Cleanup(s.Kill)
			return s
		}
	}
	t.Fatalf("redistest: single redis-server did not start: %v", lastErr)
	return nil
}

// URL is the redis:// URL of the server (database 0).
func (s *Single) URL() string { return "redis://" + s.Addr + "/0" }

// run starts the process on s.port and waits for PING.
func (s *Single) run() error {
	lines := []string{
		"port " + strconv.Itoa(s.port),
		"bind 127.0.0.1",
		"dir " + s.Dir,
		"logfile " + filepath.Join(s.Dir, "redis.log"),
		"daemonize no",
		`save ""`,
		"appendonly yes",
		"appendfsync always",
	}
	cfgPath := filepath.Join(s.Dir, "redis.conf")
	if err := os.WriteFile(cfgPath, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	srv := &Server{Addr: s.Addr, Dir: s.Dir, log: filepath.Join(s.Dir, "redis.log"), done: make(chan struct{})}
	srv.cmd = exec.Command(s.bin, cfgPath)
	if err := srv.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	go func() { _ = srv.cmd.Wait(); close(srv.done) }()
	if err := srv.waitPing(); err != nil {
		srv.Kill()
		return err
	}
	s.mu.Lock()
	s.cur, s.paused = srv, false
	s.mu.Unlock()
	return nil
}

// Kill stops the server with SIGKILL and waits for it to exit. Safe to
// call when it is not running.
func (s *Single) Kill() {
	s.mu.Lock()
	cur := s.cur
	s.cur = nil
	paused := s.paused
	s.paused = false
	s.mu.Unlock()
	if cur == nil {
		return
	}
	if paused {
		_ = cur.cmd.Process.Signal(syscall.SIGCONT)
	}
	cur.Kill()
}

// Restart starts the server again on the same port with the same data,
// and waits until it answers. It fails the test when it cannot.
func (s *Single) Restart() {
	s.t.Helper()
	s.Kill()
	if err := s.run(); err != nil {
		s.t.Fatalf("redistest: restart redis-server on %s: %v", s.Addr, err)
	}
}

// Pause freezes the server (SIGSTOP): it keeps its port, the kernel still
// accepts connections, and nothing is answered, as when a host stops
// responding. Resume continues it.
func (s *Single) Pause() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil || s.paused {
		return
	}
	if err := s.cur.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		s.t.Fatalf("redistest: pause: %v", err)
	}
	s.paused = true
}

// Resume continues a paused server.
func (s *Single) Resume() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil || !s.paused {
		return
	}
	if err := s.cur.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		s.t.Fatalf("redistest: resume: %v", err)
	}
	s.paused = false
}
