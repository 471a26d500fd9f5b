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
	fs.IntVar(&o.LoadSeconds, "load-seconds", 60, "length of the 200 req/s command load, in seconds (the response-time goal is stated for 60 s)")
	fs.DurationVar(&o.Soak, "soak", 10*time.Minute, "length of the RSS soak")
	fs.Float64Var(&o.SoakRate, "soak-rate", 10, "soak commands per second")
	fs.IntVar(&o.Tasks, "tasks", 100_000, "open tasks for the second RSS figure")
	fs.DurationVar(&o.Settle, "settle", 15*time.Second, "how long muster serve runs before each RSS reading")
	fs.StringVar(&o.RedisURL, "redis", os.Getenv("MUSTER_TEST_REDIS_URL"), "Redis URL (default MUSTER_TEST_REDIS_URL)")
	fs.BoolVar(&o.StartRedis, "start-redis", true, "start a redis-server for the run when no Redis URL is given")
	fs.BoolVar(&o.SkipBench, "skip-bench", false, "leave out the go test benchmarks")
	fs.BoolVar(&o.SkipRSS, "skip-rss", false, "leave out the RSS measurements")
	var notes multi
	fs.Var(&notes, "note", "a note for the top of the report (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	o.Pkgs = strings.Fields(*pkgs)
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
