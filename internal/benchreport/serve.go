package benchreport

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/muster-ops/muster/configs"
)

// VmRSS reads the resident set size of process pid, in bytes, from
// /proc/<pid>/status; hwm is its peak (VmHWM).
func VmRSS(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, 0, fmt.Errorf("read rss: %w", err)
	}
	defer f.Close()
	return parseStatus(f)
}

// parseStatus reads VmRSS and VmHWM (in kB) from a /proc status file.
func parseStatus(r io.Reader) (rss, hwm int64, err error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:", "VmHWM:":
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("read rss: %s %q: %w", f[0], f[1], err)
			}
			if f[0] == "VmRSS:" {
				rss = kb << 10
			} else {
				hwm = kb << 10
			}
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, fmt.Errorf("read rss: %w", err)
	}
	if rss == 0 {
		return 0, 0, errors.New("read rss: no VmRSS line")
	}
	return rss, hwm, nil
}

// BuildMuster builds cmd/muster into dir and returns the binary's path.
func BuildMuster(ctx context.Context, goCmd, moduleDir, dir string) (string, error) {
	bin := filepath.Join(dir, "muster")
	cmd := exec.CommandContext(ctx, goCmd, "build", "-o", bin, "./cmd/muster")
	cmd.Dir = moduleDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/muster: %w: %s", err, out)
	}
	return bin, nil
}

// NewNamespace is a fresh Redis namespace for one measured process.
func NewNamespace() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return "bench-" + hex.EncodeToString(b[:])
}

// WriteConfig writes the example configuration with its namespace, Slack
// API URL and journal path replaced, into dir, checks that it loads, and
// returns its path. It edits the YAML tree, so everything else stays as
// written (dates included).
func WriteConfig(dir, namespace, slackAPI string) (string, error) {
	doc, _, err := exampleConfig(dir, namespace, slackAPI, "", 0)
	if err != nil {
		return "", err
	}
	return saveConfig(doc, dir, namespace)
}

// exampleConfig is the example configuration's YAML tree (doc, and its
// root mapping) for one measured process: its namespace, the fakes' Slack
// API URL and, unless twilioAPI is "", Twilio's with twilio.rate
// twilioRate, and a journal of its own in dir.
func exampleConfig(dir, namespace, slackAPI, twilioAPI string, twilioRate float64) (doc, root *yaml.Node, err error) {
	doc = &yaml.Node{}
	if err := yaml.Unmarshal(configs.ExampleYAML(), doc); err != nil || len(doc.Content) == 0 {
		return nil, nil, fmt.Errorf("example config: %v", err)
	}
	root = doc.Content[0]
	setKey(root, namespace, "namespace")
	setKey(root, slackAPI, "slack", "api_url")
	if twilioAPI != "" {
		setKey(root, twilioAPI, "twilio", "api_url")
		setNumber(root, strconv.FormatFloat(twilioRate, 'f', -1, 64), "twilio", "rate")
	}
	setKey(root, filepath.Join(dir, namespace+"-journal.jsonl"), "server", "journal")
	return doc, root, nil
}

// saveConfig writes doc into dir as <namespace>.yaml, checks that it
// loads, and returns its path.
func saveConfig(doc *yaml.Node, dir, namespace string) (string, error) {
	raw, err := yaml.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("bench config: %w", err)
	}
	path := filepath.Join(dir, namespace+".yaml")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		return "", fmt.Errorf("bench config: %w", err)
	}
	if _, err := configs.Load(path); err != nil {
		return "", fmt.Errorf("bench config %s does not load: %w", path, err)
	}
	return path, nil
}

// setKey sets the string at path in a YAML mapping, adding the keys (and
// mappings) that are missing.
func setKey(m *yaml.Node, value string, path ...string) {
	for i, k := range path {
		var v *yaml.Node
		for j := 0; j+1 < len(m.Content); j += 2 {
			if m.Content[j].Value == k {
				v = m.Content[j+1]
				break
			}
		}
		last := i == len(path)-1
		if v == nil {
			v = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			if last {
				v = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str"}
			}
			m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, v)
		}
		if last {
			v.Kind, v.Tag, v.Value, v.Style = yaml.ScalarNode, "!!str", value, yaml.DoubleQuotedStyle
			return
		}
		m = v
	}
}

// Serve is one `muster serve` process started for a measurement.
type Serve struct {
	// URL is the base URL it listens on, e.g. http://127.0.0.1:41234.
	URL string
	// LogPath is the file its log (stderr) goes to.
	LogPath string

	cmd  *exec.Cmd
	done chan struct{}
	err  error // the process's exit, valid once done is closed
}

// ServeOptions says how to start muster serve.
type ServeOptions struct {
	Bin, Config, RedisURL string
	// SlackBotToken and SlackSigningSecret turn on the Slack HTTP routes.
	SlackBotToken, SlackSigningSecret string
	// LogPath receives the process's log.
	LogPath string
	// Env is added to the process's environment (KEY=value).
	Env []string
}

// StartServe starts muster serve on a free loopback port and waits until
// it answers /readyz. The environment is the caller's without any
// platform secret or Redis URL of its own, plus the Slack secrets given.
func StartServe(ctx context.Context, o ServeOptions) (*Serve, error) {
	logf, err := os.Create(o.LogPath)
	if err != nil {
		return nil, fmt.Errorf("serve log: %w", err)
	}
	cmd := exec.Command(o.Bin, "serve", "--config", o.Config, "--redis", o.RedisURL, "--listen", "127.0.0.1:0", "--log-level", "info")
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "SLACK_"), strings.HasPrefix(k, "DISCORD_"), strings.HasPrefix(k, "TWILIO_"), k == "MUSTER_REDIS_URL":
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = append(append(env, "SLACK_BOT_TOKEN="+o.SlackBotToken, "SLACK_SIGNING_SECRET="+o.SlackSigningSecret), o.Env...)
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("serve: %w", err)
	}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("start muster serve: %w", err)
	}
	s := &Serve{LogPath: o.LogPath, cmd: cmd, done: make(chan struct{})}
	banner := make(chan string, 1)
	go func() {
		br := bufio.NewReader(stdout)
		line, _ := br.ReadString('\n')
		banner <- line
		_, _ = io.Copy(io.Discard, br)
	}()
	go func() {
		s.err = cmd.Wait()
		_ = logf.Close()
		close(s.done)
	}()
	fail := func(err error) (*Serve, error) {
		s.Stop()
		tail, _ := os.ReadFile(o.LogPath)
		if len(tail) > 600 {
			tail = tail[len(tail)-600:]
		}
		return nil, fmt.Errorf("muster serve (log %s): %w; its log ends: %s", o.LogPath, err, bytes.TrimSpace(tail))
	}
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	select {
	case line := <-banner:
		// "muster serving on http://127.0.0.1:PORT (platforms: ...)"
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[3], "http://") {
			return fail(fmt.Errorf("unexpected banner %q", line))
		}
		s.URL = f[3]
	case <-s.done:
		return fail(fmt.Errorf("exited before serving: %v", s.err))
	case <-startCtx.Done():
		return fail(errors.New("no banner within 30s"))
	}
	if err := waitReady(startCtx, s.URL+"/readyz"); err != nil {
		return fail(err)
	}
	return s, nil
}

// waitReady polls url until it answers 200 or ctx ends.
func waitReady(ctx context.Context, url string) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w", url, ctx.Err())
		case <-tick.C:
		}
	}
}

// PID is the process id.
func (s *Serve) PID() int { return s.cmd.Process.Pid }

// RSS reads the process's resident set size and its peak, in bytes.
func (s *Serve) RSS() (rss, hwm int64, err error) {
	select {
	case <-s.done:
		return 0, 0, fmt.Errorf("muster serve exited: %v (log %s)", s.err, s.LogPath)
	default:
	}
	return VmRSS(s.PID())
}

// Stop asks the process to stop (SIGTERM) and waits up to 20 seconds
// before killing it.
func (s *Serve) Stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	t := time.NewTimer(20 * time.Second)
	defer t.Stop()
	select {
	case <-s.done:
	case <-t.C:
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// Exited reports whether the process has ended, and how.
func (s *Serve) Exited() (bool, error) {
	select {
	case <-s.done:
		return true, s.err
	default:
		return false, nil
	}
}
