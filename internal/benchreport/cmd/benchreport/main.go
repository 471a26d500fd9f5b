// Command benchreport runs every benchmark of muster and the RSS
// measurements of `muster serve`, and writes docs/BENCHMARKS.md with each
// figure beside its goal. `make bench` runs it from the module's root:
//
//	go run ./internal/benchreport/cmd/benchreport -soak 10m
//
// It uses the Redis of MUSTER_TEST_REDIS_URL, or starts a redis-server
// for the run when that is unset (-start-redis, on by default).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/muster-ops/muster/internal/benchreport"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchreport", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o benchreport.Options
	fs.StringVar(&o.Out, "out", "docs/BENCHMARKS.md", "report file, relative to -dir")
	fs.StringVar(&o.ModuleDir, "dir", ".", "the module's root")
	fs.StringVar(&o.Go, "go", "go", "the go command")
	pkgs := fs.String("pkgs", "./...", "packages to benchmark, space-separated")
	fs.StringVar(&o.BenchTime, "benchtime", "1s", "-benchtime for the benchmarks that are not single-shot")
	fs.StringVar(&o.SingleShot, "single-shot", benchreport.DefaultSingleShot, "benchmarks run once (-benchtime 1x)")
	fs.StringVar(&o.Skip, "skip", benchreport.DefaultSkip, "in-process benchmarks to leave out (- for none)")
	fs.IntVar(&o.LoadSeconds, "load-seconds", 60, "length of the 200 req/s command load, in seconds (the response-time goal is stated for 60 s)")
	fs.DurationVar(&o.Soak, "soak", 10*time.Minute, "length of the RSS soak")
	fs.Float64Var(&o.SoakRate, "soak-rate", 10, "soak commands per second")
	fs.IntVar(&o.Tasks, "tasks", 100_000, "open tasks for the second RSS figure")
	fs.DurationVar(&o.Settle, "settle", 15*time.Second, "how long muster serve runs before each RSS reading")
	fs.StringVar(&o.RedisURL, "redis", os.Getenv("MUSTER_TEST_REDIS_URL"), "Redis URL (default MUSTER_TEST_REDIS_URL)")
	fs.BoolVar(&o.StartRedis, "start-redis", true, "start a redis-server for the run when no Redis URL is given")
	fs.BoolVar(&o.SkipBench, "skip-bench", false, "leave out the go test benchmarks")
	fs.BoolVar(&o.SkipRSS, "skip-rss", false, "leave out the RSS measurements")
	fs.BoolVar(&o.SkipLive, "skip-live", false, "leave out the measurements through the binary")
	fs.IntVar(&o.Live.Deadlines, "deadlines", 100_000, "deadlines in the burst")
	fs.DurationVar(&o.Live.Spread, "spread", 20*time.Second, "the burst's deadlines fall due within this")
	fs.IntVar(&o.Live.Responders, "responders", 1000, "responders in the call-out")
	fs.Float64Var(&o.Live.LoadRate, "load-rate", 200, "commands a second of the sustained load through the binary")
	fs.DurationVar(&o.Live.LoadFor, "load-for", 5*time.Minute, "length of the sustained load through the binary")
	capRates := fs.String("capacity-rates", "400,600,800,1000,1200,1500,2000", "command rates the capacity search tries in order, comma-separated")
	fs.DurationVar(&o.Live.CapacityFor, "capacity-for", 20*time.Second, "length of each capacity step")
	skipLive := fs.String("skip-live-parts", "", "parts of the live measurements to leave out, comma-separated: burst, callout, memory, load, capacity")
	var notes multi
	fs.Var(&notes, "note", "a note for the top of the report (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	o.Pkgs = strings.Fields(*pkgs)
	for _, f := range strings.Split(*capRates, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 0 {
			fmt.Fprintf(stderr, "benchreport: -capacity-rates: %q is not a rate\n", f)
			return 2
		}
		o.Live.CapacityRates = append(o.Live.CapacityRates, v)
	}
	o.Live.Skip = map[string]bool{}
	for _, f := range strings.Split(*skipLive, ",") {
		if f = strings.TrimSpace(f); f != "" {
			o.Live.Skip[f] = true
		}
	}
	o.Notes = notes
	o.Log = stdout
	if o.Soak < 10*time.Minute {
		o.Notes = append(o.Notes, fmt.Sprintf("The soak ran for %s, shorter than the 10 minutes `make bench` uses by default.", o.Soak))
	}
	o.Command = "go run ./internal/benchreport/cmd/benchreport " + strings.Join(args, " ")
	if _, err := benchreport.Run(ctx, o); err != nil {
		fmt.Fprintln(stderr, "benchreport:", err)
		return 1
	}
	return 0
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, "; ") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }
