package benchreport

import (
	"bufio"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Result is one benchmark line of `go test -bench` output.
type Result struct {
	// Pkg is the import path of the benchmark's package.
	Pkg string
	// Name is the benchmark's full name without the -GOMAXPROCS suffix,
	// e.g. "BenchmarkTimerLateness/pending=100000/spread=20s".
	Name string
	// Procs is GOMAXPROCS as the name's suffix gave it (0 if absent).
	Procs int
	// N is how many iterations the figures are over.
	N int
	// Metrics maps each unit (ns/op, B/op, p99-ms, redis-rt/op, ...) to
	// its value.
	Metrics map[string]float64
	// Log holds the lines the benchmark logged (b.Logf), in order.
	Log []string
}

// Metric returns the value of unit and whether the benchmark reported it.
func (r Result) Metric(unit string) (float64, bool) {
	v, ok := r.Metrics[unit]
	return v, ok
}

// Outcome is a benchmark that did not produce figures: skipped or failed.
type Outcome struct {
	Pkg, Name string
	// Kind is "SKIP" or "FAIL".
	Kind string
	// Message is what the benchmark said (its b.Skip or b.Fatal text).
	Message string
}

// PkgStatus is the last line go test printed for a package: "ok", "FAIL"
// or "build failed".
type PkgStatus struct {
	Pkg, Status string
}

// Parsed is everything read from one or more runs of go test -bench.
type Parsed struct {
	Results  []Result
	Outcomes []Outcome
	Packages []PkgStatus
	// Skipped, when set, says why no benchmark ran at all.
	Skipped string
}

var (
	benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-(\d+))?\s+(\d+)\s+(.*)$`)
	pkgLine   = regexp.MustCompile(`^pkg: (\S+)`)
	endLine   = regexp.MustCompile(`^(ok|FAIL|\?)\s+(\S+)(?:\s+(.*))?$`)
	outcome   = regexp.MustCompile(`^\s*--- (SKIP|FAIL|BENCH): (Benchmark\S+?)(?:-\d+)?(?:\s+\(.*\))?\s*$`)
)

// Parse reads go test -bench output (plain text, as with -p 1) and
// collects the benchmark lines, the skipped and failed benchmarks with
// their messages, and each package's final status. Lines it does not
// know are ignored.
func Parse(r io.Reader) (Parsed, error) {
	var (
		p       Parsed
		pkg     string
		pending []int // indexes of Results whose package is not known yet
		pendO   []int // same for Outcomes
		// cur is where indented log lines go: a Result (res >= 0) or an
		// Outcome (out >= 0).
		res, out = -1, -1
	)
	finish := func(name string) {
		for _, i := range pending {
			p.Results[i].Pkg = name
		}
		for _, i := range pendO {
			p.Outcomes[i].Pkg = name
		}
		pending, pendO, pkg = nil, nil, ""
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := pkgLine.FindStringSubmatch(line); m != nil {
			pkg = m[1]
			continue
		}
		if m := outcome.FindStringSubmatch(line); m != nil {
			res, out = -1, -1
			if m[1] == "BENCH" {
				// The log of the result with that name, printed after it.
				for i := len(p.Results) - 1; i >= 0; i-- {
					if p.Results[i].Name == m[2] {
						res = i
						break
					}
				}
				continue
			}
			p.Outcomes = append(p.Outcomes, Outcome{Pkg: pkg, Name: m[2], Kind: m[1]})
			out = len(p.Outcomes) - 1
			if pkg == "" {
				pendO = append(pendO, out)
			}
			continue
		}
		if strings.HasPrefix(line, "    ") && (res >= 0 || out >= 0) {
			text := strings.TrimSpace(line)
			if res >= 0 {
				p.Results[res].Log = append(p.Results[res].Log, text)
			} else if p.Outcomes[out].Message == "" {
				p.Outcomes[out].Message = text
			} else {
				p.Outcomes[out].Message += " " + text
			}
			continue
		}
		if m := benchLine.FindStringSubmatch(line); m != nil {
			if r, ok := parseResult(m); ok {
				r.Pkg = pkg
				p.Results = append(p.Results, r)
				if pkg == "" {
					pending = append(pending, len(p.Results)-1)
				}
				res, out = -1, -1
				continue
			}
		}
		res, out = -1, -1
		if m := endLine.FindStringSubmatch(line); m != nil {
			status := m[1]
			switch {
			case status == "?":
				status = "no test files"
			case strings.Contains(m[3], "[build failed]"):
				status = "build failed"
			case strings.Contains(m[3], "[setup failed]"):
				status = "setup failed"
			}
			p.Packages = append(p.Packages, PkgStatus{Pkg: m[2], Status: status})
			finish(m[2])
		}
	}
	return p, sc.Err()
}

// parseResult reads the fields of a benchmark line: name, procs,
// iterations, then value-unit pairs.
func parseResult(m []string) (Result, bool) {
	n, err := strconv.Atoi(m[3])
	if err != nil {
		return Result{}, false
	}
	fields := strings.Fields(m[4])
	if len(fields) < 2 || len(fields)%2 != 0 {
		return Result{}, false
	}
	r := Result{Name: m[1], N: n, Metrics: map[string]float64{}}
	if m[2] != "" {
		r.Procs, _ = strconv.Atoi(m[2])
	}
	for i := 0; i < len(fields); i += 2 {
		v, err := strconv.ParseFloat(fields[i], 64)
		if err != nil {
			return Result{}, false
		}
		r.Metrics[fields[i+1]] = v
	}
	return r, true
}

// Merge appends q's contents to p.
func (p *Parsed) Merge(q Parsed) {
	p.Results = append(p.Results, q.Results...)
	p.Outcomes = append(p.Outcomes, q.Outcomes...)
	p.Packages = append(p.Packages, q.Packages...)
}

// Find returns the result named name (exact, without -procs), if any.
func (p *Parsed) Find(name string) (Result, bool) {
	for _, r := range p.Results {
		if r.Name == name {
			return r, true
		}
	}
	return Result{}, false
}

// Outcome returns how the benchmark named name (or its parent) ended
// without figures, if it did.
func (p *Parsed) Outcome(name string) (Outcome, bool) {
	for _, o := range p.Outcomes {
		if o.Name == name || strings.HasPrefix(name, o.Name+"/") {
			return o, true
		}
	}
	return Outcome{}, false
}
