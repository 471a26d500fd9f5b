package benchreport

import (
	"strings"
	"testing"
)

// sample is go test -p 1 -bench output as it comes: a package with
// figures and logs, one whose benchmark skipped, one that failed, one that
// did not build, one without tests.
const sample = `goos: linux
goarch: amd64
pkg: github.com/muster-ops/muster/notify
cpu: Intel(R) Xeon(R) Processor
BenchmarkTimerLateness/pending=100000/spread=20s-2         	       1	114556297186 ns/op	         0 early	     93981 max-ms	     47439 p50-ms	     92943 p99-ms	      5000 steps/s	546355400 B/op	13822398 allocs/op
--- BENCH: BenchmarkTimerLateness/pending=100000/spread=20s-2
    engine_bench_test.go:136: 100000 pending over 20s; 100000 due in the first 20s: lateness p50 47.4s
    engine_bench_test.go:139: p99 lateness 1m32.9s misses the 250 ms goal
BenchmarkTimerLateness/pending=100000/spread=200s-2        	       1	20965324179 ns/op	         0 early	       709.7 max-ms	         6.710 p50-ms	       537.7 p99-ms	       491.4 steps/s
PASS
ok  	github.com/muster-ops/muster/notify	143.895s
--- SKIP: BenchmarkCalloutUnpaced
    twilio_bench_test.go:100: set MUSTER_TEST_REDIS_URL: the embedded server is too slow
PASS
ok  	github.com/muster-ops/muster/internal/scenario	0.120s
goos: linux
pkg: github.com/muster-ops/muster/internal/benchreport
BenchmarkCommandRoundTrips/MusterWhoami-2         	      50	    176860 ns/op	         0.3136 p99-ms	         1.000 redis-rt/op
--- FAIL: BenchmarkCommandRoundTrips/RosterCover
    roundtrips_test.go:245: /roster cover: answer "Cover C-1" lacks "dev"
--- FAIL: BenchmarkCommandRoundTrips
FAIL
exit status 1
FAIL	github.com/muster-ops/muster/internal/benchreport	2.132s
FAIL	github.com/muster-ops/muster/bot/slack [build failed]
?   	github.com/muster-ops/muster/internal/clock	[no test files]
`

func TestParse(t *testing.T) {
	p, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Results) != 3 {
		t.Fatalf("results = %d, want 3: %+v", len(p.Results), p.Results)
	}
	burst, ok := p.Find("BenchmarkTimerLateness/pending=100000/spread=20s")
	if !ok {
		t.Fatal("burst shape not found by its name without -2")
	}
	if burst.Pkg != "github.com/muster-ops/muster/notify" || burst.Procs != 2 || burst.N != 1 {
		t.Errorf("burst = %+v", burst)
	}
	for unit, want := range map[string]float64{"p99-ms": 92943, "early": 0, "steps/s": 5000, "allocs/op": 13822398} {
		if got, ok := burst.Metric(unit); !ok || got != want {
			t.Errorf("burst %s = %v (%v), want %v", unit, got, ok, want)
		}
	}
	if len(burst.Log) != 2 || !strings.Contains(burst.Log[1], "misses the 250 ms goal") {
		t.Errorf("burst log = %q", burst.Log)
	}
	steady, _ := p.Find("BenchmarkTimerLateness/pending=100000/spread=200s")
	if v, _ := steady.Metric("p99-ms"); v != 537.7 || len(steady.Log) != 0 {
		t.Errorf("steady = %+v", steady)
	}
	rt, _ := p.Find("BenchmarkCommandRoundTrips/MusterWhoami")
	if rt.Pkg != "github.com/muster-ops/muster/internal/benchreport" || rt.N != 50 {
		t.Errorf("round trips = %+v", rt)
	}

	wantOutcomes := []Outcome{
		{Pkg: "github.com/muster-ops/muster/internal/scenario", Name: "BenchmarkCalloutUnpaced", Kind: "SKIP",
			Message: "twilio_bench_test.go:100: set MUSTER_TEST_REDIS_URL: the embedded server is too slow"},
		{Pkg: "github.com/muster-ops/muster/internal/benchreport", Name: "BenchmarkCommandRoundTrips/RosterCover", Kind: "FAIL",
			Message: `roundtrips_test.go:245: /roster cover: answer "Cover C-1" lacks "dev"`},
		{Pkg: "github.com/muster-ops/muster/internal/benchreport", Name: "BenchmarkCommandRoundTrips", Kind: "FAIL"},
	}
	if len(p.Outcomes) != len(wantOutcomes) {
		t.Fatalf("outcomes = %+v", p.Outcomes)
	}
	for i, w := range wantOutcomes {
		if p.Outcomes[i] != w {
			t.Errorf("outcome %d = %+v, want %+v", i, p.Outcomes[i], w)
		}
	}
	if o, ok := p.Outcome("BenchmarkCalloutUnpaced"); !ok || o.Kind != "SKIP" {
		t.Errorf("Outcome(BenchmarkCalloutUnpaced) = %+v, %v", o, ok)
	}
	wantPkgs := []PkgStatus{
		{"github.com/muster-ops/muster/notify", "ok"},
		{"github.com/muster-ops/muster/internal/scenario", "ok"},
		{"github.com/muster-ops/muster/internal/benchreport", "FAIL"},
		{"github.com/muster-ops/muster/bot/slack", "build failed"},
		{"github.com/muster-ops/muster/internal/clock", "no test files"},
	}
	if len(p.Packages) != len(wantPkgs) {
		t.Fatalf("packages = %+v", p.Packages)
	}
	for i, w := range wantPkgs {
		if p.Packages[i] != w {
			t.Errorf("package %d = %+v, want %+v", i, p.Packages[i], w)
		}
	}
}

func TestParseIgnoresBrokenLines(t *testing.T) {
	p, err := Parse(strings.NewReader("BenchmarkX-2   \t10\t12 ns/op\t3\n" +
		"BenchmarkY-2 \tlots\t1 ns/op\n" +
		"BenchmarkZ \t3\tfast ns/op\n" +
		"Benchmarking is fun\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Results) != 0 {
		t.Fatalf("results from broken lines: %+v", p.Results)
	}
}
