package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/store"
)

// result is one `muster ...` run.
type result struct {
	code           int
	stdout, stderr string
}

// muster runs the CLI in-process with stdin as its input.
func muster(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := run(ctx, args, strings.NewReader(stdin), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// org is a copy of the example config in a fresh namespace, so a test on
// a shared Redis sees only its own records, and removes them afterwards.
type org struct {
	config string // path of the config file
	ns     string
}

var namespaceRE = regexp.MustCompile(`(?m)^namespace: .*$`)

func newOrg(t *testing.T) org {
	t.Helper()
	// Only --redis may point the console at a Redis; not the environment
	// of whoever runs the tests.
	t.Setenv("MUSTER_REDIS_URL", "")
	ns := storetest.Namespace()
	yaml := configs.ExampleYAML()
	if n := len(namespaceRE.FindAll(yaml, -1)); n != 1 {
		t.Fatalf("the example config has %d namespace lines, want 1", n)
	}
	yaml = namespaceRE.ReplaceAll(yaml, []byte("namespace: "+ns))
	path := filepath.Join(t.TempDir(), "muster.yaml")
	if err := os.WriteFile(path, yaml, 0o600); err != nil {
		t.Fatal(err)
	}
	if url := storetest.URL(); url != "" {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			st, err := store.Open(ctx, store.Options{URL: url, Namespace: ns})
			if err != nil {
				t.Errorf("clean up namespace %s: %v", ns, err)
				return
			}
			defer st.Close()
			if err := st.DeleteAll(ctx); err != nil {
				t.Errorf("clean up namespace %s: %v", ns, err)
			}
		})
	}
	return org{config: path, ns: ns}
}

// redisURL is a Redis for processes that need one (serve, a console as
// its client, the record commands): the test Redis, or else an embedded
// server that lives as long as the test.
func (o org) redisURL(t *testing.T) string {
	t.Helper()
	if url := storetest.URL(); url != "" {
		return url
	}
	st := storetest.OpenNamespace(t, o.ns, nil)
	return "redis://" + st.Addr()
}

// console runs `muster console --config <org> extra...` with the script
// as its piped input: on the embedded store, where the console is the
// whole system (it escalates and prints what muster sends), unless extra
// gives --redis.
func (o org) console(t *testing.T, script string, extra ...string) result {
	t.Helper()
	args := append([]string{"console", "--config", o.config}, extra...)
	r := muster(t, script, args...)
	if r.code != 0 {
		t.Fatalf("muster %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

var raisedRE = regexp.MustCompile(`(?m)^(INC-\d+) raised: sev2 intrusion at Harbour Point HQ by Amara Okafor: Fence cut near gate B$`)

// TestConsoleRaiseAndList is
//
//	printf '/incident raise intrusion sev2 @harbour Fence cut near gate B\n/incident list\n' | muster console --as amara
func TestConsoleRaiseAndList(t *testing.T) {
	o := newOrg(t)
	r := o.console(t, "/incident raise intrusion sev2 @harbour Fence cut near gate B\n/incident list\n", "--as", "amara")

	m := raisedRE.FindStringSubmatchIndex(r.stdout)
	if m == nil {
		t.Fatalf("no \"INC-n raised\" line in:\n%s", r.stdout)
	}
	id := r.stdout[m[2]:m[3]]
	if id != "INC-1" {
		t.Errorf("first incident of a fresh namespace is %s, want INC-1", id)
	}
	rest := r.stdout[m[1]:]
	i := strings.Index(rest, "\nOpen incidents (1, newest first):\n")
	if i < 0 {
		t.Fatalf("no list of one open incident after the raise in:\n%s", r.stdout)
	}
	list := rest[i+1:]
	if !regexp.MustCompile(`(?m)^` + id + `  \d\d:\d\d  sev2 +open +@harbour  intrusion  Fence cut near gate B$`).MatchString(list) {
		t.Errorf("the list does not show %s:\n%s", id, list)
	}
	// The site's chat post is shown too.
	if !strings.Contains(r.stdout, "→ chat #harbour: "+id+" raised:") {
		t.Errorf("no chat post to #harbour in:\n%s", r.stdout)
	}
}

// TestConsoleTwoProcesses: a second `muster console` on the same Redis
// sees what the first recorded.
func TestConsoleTwoProcesses(t *testing.T) {
	o := newOrg(t)
	redis := o.redisURL(t)
	first := o.console(t, "/incident raise intrusion sev2 @harbour Fence cut near gate B\n", "--as", "amara", "--redis", redis)
	m := raisedRE.FindStringSubmatch(first.stdout)
	if m == nil {
		t.Fatalf("first run raised nothing:\n%s", first.stdout)
	}
	second := o.console(t, "/incident list\n/incident show "+m[1]+"\n", "--as", "ben", "--redis", redis)
	if !regexp.MustCompile(`(?m)^Open incidents \(1, newest first\):\n` + m[1] + `  .*Fence cut near gate B$`).MatchString(second.stdout) {
		t.Errorf("second run does not list %s:\n%s", m[1], second.stdout)
	}
	if !strings.Contains(second.stdout, m[1]+" sev2 intrusion at Harbour Point HQ, open\nRaised ") {
		t.Errorf("second run does not show %s:\n%s", m[1], second.stdout)
	}
	// And a third raise continues the numbering.
	third := o.console(t, "/incident raise theft @depot Diesel siphoned\n", "--as", "dev", "--redis", redis)
	if !strings.HasPrefix(third.stdout, "INC-2 raised: sev3 theft at Riverside Depot by Dev Patel: Diesel siphoned\n") {
		t.Errorf("third run:\n%s", third.stdout)
	}
}

// TestConsoleResolvePermission: a guard's resolve is refused with the
// roles that may; a supervisor's succeeds, and show says by whom and when.
// (The refusal makes the piped console exit 1.)
func TestConsoleResolvePermission(t *testing.T) {
	o := newOrg(t)
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().In(london).Truncate(time.Minute)
	r := muster(t, strings.Join([]string{
		"/incident raise intrusion sev2 @harbour Fence cut near gate B",
		"/incident resolve INC-1 done",
		"/incident show INC-1",
		":as farid",
		"/incident resolve INC-1 done",
		"/incident show INC-1",
	}, "\n"), "console", "--config", o.config, "--as", "amara")
	if r.code != 1 {
		t.Errorf("exit %d, want 1 (one line refused); stderr %q", r.code, r.stderr)
	}
	after := time.Now().In(london)

	lines := strings.Split(r.stdout, "\n")
	refusal := lines[2]
	for _, want := range []string{"Only a supervisor, control or a coordinator may resolve", "you are guard, first-aider", "/incident update INC-1"} {
		if !strings.Contains(refusal, want) {
			t.Errorf("guard's resolve answered %q, want it to contain %q", refusal, want)
		}
	}
	if lines[3] != "INC-1 sev2 intrusion at Harbour Point HQ, open" {
		t.Errorf("after the guard's resolve, show says %q, want open", lines[3])
	}

	shows := strings.Split(r.stdout, "INC-1 sev2 intrusion at Harbour Point HQ, ")
	last := shows[len(shows)-1]
	if !strings.HasPrefix(last, "resolved\n") {
		t.Fatalf("after the supervisor's resolve, show says:\n%s", last)
	}
	m := regexp.MustCompile(`(?m)^Resolved (\d\d:\d\d) by Farid Haddad: done$`).FindStringSubmatch(last)
	if m == nil {
		t.Fatalf("show does not say who resolved it and when:\n%s", last)
	}
	// The time shown is the wall-clock minute of the resolve, in London.
	ok := false
	for at := before; !at.After(after); at = at.Add(time.Minute) {
		ok = ok || at.Format("15:04") == m[1]
	}
	if !ok {
		t.Errorf("resolved at %s, want a time between %s and %s", m[1], before.Format("15:04"), after.Format("15:04"))
	}
	if !strings.Contains(r.stdout, "\n→ chat #harbour: INC-1 resolved by Farid Haddad at ") {
		t.Errorf("no resolve post to #harbour:\n%s", r.stdout)
	}
}

// fileLineRE is a problem line: the file, a line number, then the problem.
var fileLineRE = regexp.MustCompile(`^(.+):(\d+): \S`)

func TestCheckConfigFixtures(t *testing.T) {
	files, err := filepath.Glob("../../configs/testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in ../../configs/testdata (%v)", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			r := muster(t, "", "check-config", file)
			// The one fixture without a fault is the base the others are made from.
			if filepath.Base(file) == "valid-trimmed.yaml" {
				if r.code != 0 || !strings.HasPrefix(r.stdout, file+": ok: ") {
					t.Errorf("exit %d, stdout %q; want 0 and ok", r.code, r.stdout)
				}
				return
			}
			if r.code != 1 {
				t.Errorf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			if len(lines) < 2 {
				t.Fatalf("stdout %q: want problem lines and a count line", r.stdout)
			}
			for _, l := range lines[:len(lines)-1] {
				m := fileLineRE.FindStringSubmatch(l)
				if m == nil || m[1] != file || m[2] == "0" {
					t.Errorf("problem line %q does not start with %s:<line>:", l, file)
				}
			}
			if want := regexp.MustCompile(`^(\d+) problem\(s\) found$`); !want.MatchString(lines[len(lines)-1]) ||
				want.FindStringSubmatch(lines[len(lines)-1])[1] != strconv.Itoa(len(lines)-1) {
				t.Errorf("last line %q: want the count of the %d problem line(s)", lines[len(lines)-1], len(lines)-1)
			}
		})
	}
}

func TestCheckConfigValid(t *testing.T) {
	r := muster(t, "", "check-config", "../../configs/example.yaml")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "../../configs/example.yaml: ok: ") || !strings.Contains(r.stdout, "2 sites") {
		t.Errorf("check-config example.yaml: exit %d, stdout %q; want 0 and a summary with 2 sites", r.code, r.stdout)
	}
	// No file is a usage error: checking the embedded example instead
	// would pass any CI job that forgot to name its file.
	r = muster(t, "", "check-config")
	if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, "name the files to check") || !strings.Contains(r.stderr, "Usage:") {
		t.Errorf("check-config alone: exit %d, stdout %q, stderr %q; want 2 and the usage", r.code, r.stdout, r.stderr)
	}
	// Several files: each is checked; one bad file fails the run.
	bad := "../../configs/testdata/unknown-key.yaml"
	r = muster(t, "", "check-config", "../../configs/example.yaml", bad)
	if r.code != 1 || !strings.Contains(r.stdout, "example.yaml: ok: ") || !strings.Contains(r.stdout, bad+":10: ") {
		t.Errorf("check-config good and bad: exit %d, stdout %q; want 1, the good one ok and the bad one's problem", r.code, r.stdout)
	}
	// - reads the config from stdin.
	example, err := os.ReadFile("../../configs/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if r = muster(t, string(example), "check-config", "-"); r.code != 0 || !strings.HasPrefix(r.stdout, "<stdin>: ok: ") {
		t.Errorf("check-config - (example on stdin): exit %d, stdout %q; want 0 and <stdin>: ok", r.code, r.stdout)
	}
	if r = muster(t, "organization: x\nfrobnicate: 1\n", "check-config", "-"); r.code != 1 || !strings.Contains(r.stdout, "<stdin>:2: ") {
		t.Errorf("check-config - (bad config on stdin): exit %d, stdout %q; want 1 and <stdin>:2:", r.code, r.stdout)
	}
	if r = muster(t, "", "check-config", filepath.Join(t.TempDir(), "missing.yaml")); r.code != 1 || !strings.Contains(r.stdout, "missing.yaml") {
		t.Errorf("check-config of a missing file: exit %d, stdout %q; want 1 naming the file", r.code, r.stdout)
	}
}

// TestRoster: the example's harbour-guard rotation is 12h shifts handed
// over at 07:00 and 19:00 London time from Mon 5 Jan 2026, people
// [amara, ben, chloe]. 28 Nov is day-of-year 332, 327 days after 5 Jan;
// 08:00Z is 08:00 GMT, in day shift k = 2*327 = 654, and 654 mod 3 = 0:
// Amara, until 19:00, then shift 655 (655 mod 3 = 1): Ben.
func TestRoster(t *testing.T) {
	r := muster(t, "", "roster", "--site", "harbour", "--at", "2026-11-28T08:00:00Z", "--role", "guard")
	// An instant chosen with --at is not "now".
	want := "Harbour Point HQ, on duty (Sat 28 Nov 08:00 GMT):\n  guard: Amara Okafor until 19:00 (Sat 28 Nov); next Ben Walsh\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d, stdout:\n%s\nwant 0 and:\n%s", r.code, r.stdout, want)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown site", []string{"roster", "--site", "moon", "--at", "2026-11-28T08:00:00Z"}, "--site must be one of harbour, depot"},
		{"no site", []string{"roster", "--at", "2026-11-28T08:00:00Z"}, "--site must be one of"},
		{"bad --at", []string{"roster", "--site", "harbour", "--at", "28/11/2026 08:00"}, `--at "28/11/2026 08:00" is not RFC 3339`},
		{"--at without a zone", []string{"roster", "--site", "harbour", "--at", "2026-11-28T08:00:00"}, "is not RFC 3339"},
		{"bad --when", []string{"roster", "--site", "harbour", "--when", "later"}, "--when must be now, next or week"},
		{"unknown flag", []string{"roster", "--site", "harbour", "--colour", "red"}, "-colour"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := muster(t, "", tc.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 and %q on stderr", r.code, r.stdout, r.stderr, tc.want)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"frobnicate"}, {}, {"--config", "x.yaml"}} {
		r := muster(t, "", args...)
		if r.code != 2 || !strings.Contains(r.stderr, "Usage:") || !strings.Contains(r.stderr, "muster console") || r.stdout != "" {
			t.Errorf("muster %v: exit %d, stdout %q, stderr %q; want 2 and the usage on stderr", args, r.code, r.stdout, r.stderr)
		}
	}
	r := muster(t, "", "frobnicate")
	if !strings.Contains(r.stderr, `unknown command "frobnicate"`) {
		t.Errorf("stderr %q: want it to name the unknown command", r.stderr)
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		r = muster(t, "", args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("muster %v: exit %d, stdout %q; want 0 and the usage", args, r.code, r.stdout)
		}
		// The usage names every subcommand.
		for _, sub := range []string{"console", "serve", "roster", "check-config", "version", "audit verify", "audit export",
			"report incident", "report activation", "report drill", "report rollcall", "report checkins", "report review", "records prune"} {
			if !strings.Contains(r.stdout, "muster "+sub) {
				t.Errorf("muster %v does not list %q", args, sub)
			}
		}
	}
}

// muster version, --version and -v print the version, the commit and the
// Go version.
func TestVersion(t *testing.T) {
	for _, arg := range []string{"version", "--version", "-v"} {
		r := muster(t, "", arg)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "muster, version ") || !strings.Contains(r.stdout, "(revision ") ||
			!strings.Contains(r.stdout, "go version: "+runtime.Version()) {
			t.Errorf("muster %s: exit %d, stdout %q", arg, r.code, r.stdout)
		}
	}
	if r := muster(t, "", "version", "now"); r.code != 2 {
		t.Errorf("muster version now: exit %d, want 2", r.code)
	}
}

// Every subcommand's --help exits 0 and lists every flag it takes, with
// two dashes; an unknown flag exits 2 and names it.
func TestSubcommandHelp(t *testing.T) {
	for _, tc := range []struct {
		cmd   []string
		flags []string
	}{
		{[]string{"console"}, []string{"--config FILE", "--as PERSON", "--redis URL", "--time-scale N", "--start RFC3339", "--log-level LEVEL", "--log-format FORMAT"}},
		{[]string{"serve"}, []string{"--config FILE", "--redis URL", "--listen ADDR", "--log-level LEVEL", "--log-format FORMAT", "--demo"}},
		{[]string{"roster"}, []string{"--config FILE", "--site SITE", "--at RFC3339", "--role ROLE", "--when WHEN", "--redis URL"}},
		{[]string{"check-config"}, []string{"--help"}},
		{[]string{"audit"}, []string{"--config FILE", "--redis URL", "--file", "--from", "--format", "--out"}},
		{[]string{"audit", "verify"}, []string{"--file"}},
		{[]string{"report"}, []string{"--site", "--format"}},
		{[]string{"records"}, []string{"--dry-run"}},
	} {
		for _, help := range []string{"--help", "-h"} {
			r := muster(t, "", append(tc.cmd, help)...)
			if r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
				t.Errorf("muster %v %s: exit %d, stdout %q, stderr %q; want 0 and the usage", tc.cmd, help, r.code, r.stdout, r.stderr)
				continue
			}
			for _, f := range tc.flags {
				if !strings.Contains(r.stdout, f) {
					t.Errorf("muster %v %s does not list %q:\n%s", tc.cmd, help, f, r.stdout)
				}
			}
		}
		if len(tc.cmd) > 1 || tc.cmd[0] == "audit" || tc.cmd[0] == "report" || tc.cmd[0] == "records" {
			continue
		}
		r := muster(t, "", append(tc.cmd, "--colour", "red")...)
		if r.code != 2 || !strings.Contains(r.stderr, "-colour") || !strings.Contains(r.stderr, "Usage:") {
			t.Errorf("muster %v --colour red: exit %d, stderr %q; want 2 naming the flag", tc.cmd, r.code, r.stderr)
		}
	}
}

// A piped console runs every line, then exits 1 when any was refused or
// failed, so a script driving it knows.
func TestConsolePipedExitStatus(t *testing.T) {
	o := newOrg(t)
	r := muster(t, "/incident raise intrusion sev2 @harbour Fence cut\n/incident frobnicate\n:wait soon\n/incident list\n",
		"console", "--config", o.config, "--as", "amara")
	if r.code != 1 || !strings.Contains(r.stderr, "2 line(s) refused or failed") {
		t.Errorf("exit %d, stderr %q; want 1 and the count of failed lines", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "Open incidents (1, newest first)") {
		t.Errorf("the lines after the failures did not run:\n%s", r.stdout)
	}
}

// TestConsoleBadArgs: a bad person or config is an exit code and a reason.
func TestConsoleBadArgs(t *testing.T) {
	t.Setenv("MUSTER_REDIS_URL", "")
	r := muster(t, "", "console", "--as", "zoe")
	if r.code != 2 || !strings.Contains(r.stderr, `"zoe"`) {
		t.Errorf("console --as zoe: exit %d, stderr %q; want 2 naming zoe", r.code, r.stderr)
	}
	bad := "../../configs/testdata/unknown-key.yaml"
	r = muster(t, "", "console", "--config", bad)
	if r.code != 1 || !strings.Contains(r.stderr, bad+":10: ") {
		t.Errorf("console --config %s: exit %d, stderr %q; want 1 and the problem's line", bad, r.code, r.stderr)
	}
	r = muster(t, "", "console", "--start", "tomorrow")
	if r.code != 2 || !strings.Contains(r.stderr, `--start "tomorrow" is not RFC 3339`) {
		t.Errorf("console --start tomorrow: exit %d, stderr %q; want 2 and the format", r.code, r.stderr)
	}
}
