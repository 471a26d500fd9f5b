package benchreport

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Goals of issue 7, and the one this report adds (soak growth).
const (
	GoalCommandP99Ms    = 25.0  // command p99 at 200 req/s, ms
	GoalLoadRate        = 200.0 // req/s the load runs at
	GoalRoundTrips      = 2.0   // Redis round trips per command
	GoalLatenessP99Ms   = 250.0 // timer lateness p99, ms
	GoalFirstSendS      = 1.0   // call-out: reply to first send, s
	GoalCalloutS        = 2.0   // call-out: reply to last send, unpaced, s
	GoalPacedOffPct     = 5.0   // paced rate within this many % of the setting
	GoalIdleRSSBytes    = 40e6  // idle RSS, bytes (MB = 10^6 bytes)
	GoalTasksRSSBytes   = 150e6 // RSS with 100,000 open tasks, bytes
	GoalSoakGrowthBytes = 10e6  // RSS growth over the soak after warm-up (this report's bar)
	timerLatenessBench  = "BenchmarkTimerLateness"
	loadBench           = "BenchmarkSlackCommandLoad200"
	roundTripBench      = "BenchmarkCommandRoundTrips"
	slackCommandBench   = "BenchmarkSlackCommand"
	calloutUnpacedBench = "BenchmarkCalloutUnpaced"
	calloutPacedBench   = "BenchmarkCalloutPaced"
	spreadBurst         = "pending=100000/spread=20s"
	spreadSteady        = "pending=100000/spread=200s"
	auditAppendBench    = "BenchmarkAuditAppend"
	raiseChainedBench   = "BenchmarkRaiseIncidentChained"
)

// Report is everything the benchmark report shows.
type Report struct {
	Date     time.Time
	Duration time.Duration
	// Command is the command line that produced the report.
	Command string
	// GoTest lists the go test invocations run, as shell text.
	GoTest []string
	// Knobs are the settings, in order ("BENCH_SOAK", "10m0s"...).
	Knobs [][2]string
	// Redis says which Redis the figures are from.
	Redis   string
	Machine Machine
	// LoadEnd is the load average when the run finished.
	LoadEnd string
	Bench   Parsed
	// Memory is nil when the RSS measurements did not run; MemorySkip
	// says why.
	Memory     *Memory
	MemorySkip string
	// Notes are said at the top (a shortened soak, for instance).
	Notes []string
	// Live is nil when the measurements through the binary did not run;
	// LiveSkip says why. LiveOptions are the settings they ran with.
	Live        *Live
	LiveSkip    string
	LiveOptions LiveOptions
}

// Memory holds the RSS figures of muster serve.
type Memory struct {
	Idle, IdleHWM int64
	IdleErr       error
	// Tasks open tasks loaded; WithTasks the RSS after it settled with
	// them pending; Pending how many timers were still pending then.
	Tasks                   int
	WithTasks, WithTasksHWM int64
	LoadTook                time.Duration
	Pending                 int64
	TaskCommands            []string
	TasksErr                error
	// Soak is the soak's run; Warmup the mark growth is measured from.
	Soak         SoakResult
	SoakDuration time.Duration
	SoakRate     float64
	Warmup       time.Duration
	SoakLog      LogSummary
	SoakErr      error
	Settle       time.Duration
}

// row is one line of a figures table.
type row struct{ figure, value, goal, met, note string }

const (
	metYes = "yes"
	metNo  = "**no**"
	metNA  = "—"
	notRun = "not run"
)

func metStr(ok bool) string {
	if ok {
		return metYes
	}
	return metNo
}

// fig formats a metric of a benchmark: its value and, when goal is set,
// whether it meets it.
type fig struct {
	bench, unit, label string
	format             func(float64) string
	goal               string
	ok                 func(float64) bool // nil: no goal
	note               func(float64) string
}

func msFmt(v float64) string {
	switch {
	case v >= 10000:
		return fmt.Sprintf("%.1f s", v/1000)
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 1:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.2f ms", v)
}
func secFmt(v float64) string  { return fmt.Sprintf("%.2f s", v) }
func numFmt(v float64) string  { return trimFloat(v) }
func rateFmt(v float64) string { return fmt.Sprintf("%.1f/s", v) }
func pctFmt(v float64) string  { return fmt.Sprintf("%.1f%%", v) }
func usFmt(v float64) string   { return fmt.Sprintf("%.0f µs", v) }

// trimFloat prints v with up to two decimals and no trailing zeros.
func trimFloat(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

// MB formats bytes in MB (10^6 bytes), the unit of the goals.
func MB(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

// lookup turns a fig into a row, or a "not run" row with the reason.
func (p *Parsed) lookup(f fig) row {
	label := f.label
	r, ok := p.Find(f.bench)
	if !ok {
		note := "benchmark not found in the output"
		if p.Skipped != "" {
			note = p.Skipped
		}
		if o, found := p.Outcome(f.bench); found {
			note = strings.ToLower(o.Kind) + ": " + o.Message
		}
		goal := f.goal
		if goal == "" {
			goal = metNA
		}
		return row{label, notRun, goal, notRun, note}
	}
	v, ok := r.Metric(f.unit)
	if !ok {
		return row{label, notRun, f.goal, notRun, "no " + f.unit + " metric"}
	}
	out := row{figure: label, value: f.format(v), goal: f.goal, met: metNA}
	if f.goal == "" {
		out.goal = metNA
	}
	if f.ok != nil {
		out.met = metStr(f.ok(v))
	}
	if f.note != nil {
		out.note = f.note(v)
	}
	return out
}

func le(limit float64) func(float64) bool { return func(v float64) bool { return v <= limit } }

func table(b *strings.Builder, rows []row) {
	b.WriteString("| figure | measured | goal | met? | note |\n|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", cell(r.figure), cell(r.value), cell(r.goal), r.met, cell(r.note))
	}
	b.WriteString("\n")
}

// cell keeps a table cell on one line and its pipes escaped.
func cell(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

// Render writes the report as Markdown.
func Render(r Report) string {
	var b strings.Builder
	p := &r.Bench
	b.WriteString("# muster benchmarks\n\n")
	fmt.Fprintf(&b, "Generated by internal/benchreport (what `make bench` runs; the exact command is under [How it was run](#how-it-was-run)) on %s, in %s. ", r.Date.UTC().Format("2006-01-02 15:04 MST"), r.Duration.Round(time.Second))
	b.WriteString("Every figure is next to its goal (issue 12's for the figures through the binary, issue 7's for the others); a figure that misses its goal says so, with the reason where it is known; one from a run smaller or shorter than its goal states (fewer deadlines, a shorter load) is \"not shown\" when it is within the goal, and a goal whose part did not run says why. ")
	b.WriteString("Run it again with `make bench` (see [How it was run](#how-it-was-run)). ")
	b.WriteString("The sections of `make bench-board` and `make bench-rollcall` are measured and written by those targets, each naming the machine it ran on; `make bench` keeps them as they are when they ran on this CPU, and moves them under [Earlier runs](#earlier-runs) when they did not.\n\n")
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "> **Note.** %s\n\n", n)
	}

	b.WriteString("## Machine\n\n| | |\n|---|---|\n")
	m := r.Machine
	fmt.Fprintf(&b, "| CPU | %s |\n", cell(m.CPUName()))
	fmt.Fprintf(&b, "| memory | %s |\n", m.MemTotal)
	if m.Kernel != "" {
		fmt.Fprintf(&b, "| kernel | %s |\n", cell(m.Kernel))
	}
	fmt.Fprintf(&b, "| Go | %s |\n", cell(m.Go))
	fmt.Fprintf(&b, "| Redis | %s; %s |\n", cell(m.Redis), cell(r.Redis))
	fmt.Fprintf(&b, "| load average (1, 5, 15 min) | %s at the start, %s at the end |\n", m.LoadAvg, r.LoadEnd)
	b.WriteString("\n")
	if la := loadPerCPU(m); la > 0.5 {
		fmt.Fprintf(&b, "The machine had a load average %.1f per CPU at the start (the 1-minute figure counts whatever ran in the minute before, too); if other work ran during the benchmarks, latency figures are pessimistic, throughput ones too.\n\n", la)
	}

	b.WriteString("## Summary\n\n")
	b.WriteString(SummaryTable(r))

	renderLive(&b, r)

	if _, ok := p.Find(loadBench); ok {
		renderLoadBench(&b, r)
	}
	renderRoundTrips(&b, r)
	if _, ok := p.Find(timerLatenessBench + "/" + spreadBurst); ok {
		renderLateness(&b, r)
	}
	renderCallout(&b, r)

	b.WriteString("## Memory of `muster serve`\n\n")
	renderMemory(&b, r)

	if _, ok := p.Find(auditAppendBench); ok {
		b.WriteString("## Store\n\n")
		b.WriteString("`store` benchmarks: one audit event appended on its own, and a whole incident raise that appends one. No goal of their own; they explain the others.\n\n")
		table(&b, []row{
			p.lookup(fig{bench: auditAppendBench, unit: "p99-µs", label: "audit append p99", format: usFmt}),
			p.lookup(fig{bench: raiseChainedBench, unit: "p99-µs", label: "incident raise (chained) p99", format: usFmt}),
		})
	}

	renderOthers(&b, p)
	renderProblems(&b, p)
	renderHow(&b, r)
	renderRaw(&b, p)
	return b.String()
}

// SummaryTable is the report's summary: every goal beside its figure,
// met or not.
func SummaryTable(r Report) string {
	var b strings.Builder
	table(&b, append(liveSummary(r), summaryRows(r)...))
	return b.String()
}

// renderLoadBench writes the in-process command load benchmark's section.
func renderLoadBench(b *strings.Builder, r Report) {
	p := &r.Bench
	b.WriteString("## Command response time under load (in process)\n\n")
	b.WriteString("Signed Slack slash commands over HTTP to muster's `/slack/commands` on a real listener, on the Redis above; fan-out stays queued (no deliverer), so the time is the path to the HTTP answer. ")
	b.WriteString("`BenchmarkSlackCommandLoad200` (bot/slack) sends an open-loop mix (raise, list, roster, whoami) at 200 a second and measures each answer from its scheduled send time, so a stall is not hidden by sending less.\n\n")
	load := func(unit, label string, format func(float64) string, goal string, ok func(float64) bool) row {
		return p.lookup(fig{bench: loadBench, unit: unit, label: label, format: format, goal: goal, ok: ok})
	}
	p99 := load("p99-ms", "p99", msFmt, "≤ 25 ms", le(GoalCommandP99Ms))
	p99.note = loadP99Note(p, p99)
	table(b, []row{
		load("req/s", "rate achieved", rateFmt, "200/s (within 5%)", func(v float64) bool { return v >= GoalLoadRate*0.95 }),
		load("p50-ms", "p50", msFmt, "", nil),
		p99,
		load("p99.9-ms", "p99.9", msFmt, "", nil),
		load("max-ms", "max", msFmt, "< 3 s (Slack's limit)", le(3000)),
		load("sent-p99-ms", "p99 from the actual send (without the load generator's lag)", msFmt, "", nil),
		load("failed", "failed requests", numFmt, "0", le(0)),
		load("dropped", "not sent (400 already in flight)", numFmt, "0", le(0)),
		load("over-3s", "answers later than 3 s", numFmt, "0", le(0)),
	})
	var seq []row
	for _, res := range p.Results {
		if name, ok := strings.CutPrefix(res.Name, slackCommandBench+"/"); ok {
			seq = append(seq, p.lookup(fig{bench: res.Name, unit: "p99-ms", label: name + " p99, one at a time (" + numFmt(float64(res.N)) + " requests)", format: msFmt, goal: "≤ 25 ms", ok: le(GoalCommandP99Ms)}))
		}
	}
	if len(seq) > 0 {
		b.WriteString("One command at a time (`BenchmarkSlackCommand`):\n\n")
		table(b, seq)
	}
	if mem := r.Memory; mem != nil && mem.Soak.Sent > 0 {
		fmt.Fprintf(b, "Through the real `muster serve` binary during the soak (below), at %s commands a second: p50 %s, p99 %s, max %s over %d commands.\n\n",
			trimFloat(mem.SoakRate), mem.Soak.P50.Round(10*time.Microsecond), mem.Soak.P99.Round(10*time.Microsecond), mem.Soak.Max.Round(10*time.Microsecond), mem.Soak.Sent)
	}
}

// renderRoundTrips writes the Redis round trips per command.
func renderRoundTrips(b *strings.Builder, r Report) {
	p := &r.Bench
	b.WriteString("## Redis round trips per command\n\n")
	b.WriteString("`BenchmarkCommandRoundTrips` (internal/benchreport) sends every chat command of the grammar as a signed Slack slash command and counts the Redis round trips of the whole HTTP path with a go-redis hook: one per command sent alone, one per pipeline or MULTI/EXEC, one per script. ")
	b.WriteString("The path includes the Slack replay check (a `SET NX` of the request's signature): it rides on the command's first round trip, in the prelude of its first script or at the head of its first read pipeline (store/guard.go), so only a command that reads no records (`/muster help`, `/plan list`) pays it as a round trip of its own. Lists are measured with records in them. Setup (raising the incident that `show` reads, triggering the plan that `ack` answers) is not counted. `TestCommandRoundTrips` fails CI when a command needs more than 2.\n\n")
	var rts []row
	for _, res := range p.Results {
		name, ok := strings.CutPrefix(res.Name, roundTripBench+"/")
		if !ok {
			continue
		}
		line := commandLine(name)
		rts = append(rts, p.lookup(fig{bench: res.Name, unit: "redis-rt/op", label: line, format: numFmt, goal: "≤ 2", ok: le(GoalRoundTrips),
			note: func(v float64) string {
				if v <= GoalRoundTrips {
					return ""
				}
				return "replay check included"
			}}))
	}
	if len(rts) == 0 {
		rts = append(rts, p.lookup(fig{bench: roundTripBench, unit: "redis-rt/op", label: "every command", format: numFmt, goal: "≤ 2", ok: le(GoalRoundTrips)}))
	}
	for _, res := range p.Results {
		if strings.HasPrefix(res.Name, slackCommandBench) {
			if _, ok := res.Metric("redis-rt/op"); ok {
				rts = append(rts, p.lookup(fig{bench: res.Name, unit: "redis-rt/op", label: strings.TrimPrefix(res.Name, "Benchmark") + " (bot/slack)", format: numFmt, goal: "≤ 2", ok: le(GoalRoundTrips)}))
			}
		}
	}
	table(b, rts)
}

// renderLateness writes the in-process timer lateness benchmark's section.
func renderLateness(b *strings.Builder, r Report) {
	p := &r.Bench
	m := r.Machine
	b.WriteString("## Timer lateness at 100,000 pending (in process)\n\n")
	b.WriteString("`BenchmarkTimerLateness` (notify) loads 100,000 pending timers into Redis and lets one engine on the real clock fire them; lateness is from each deadline to the step being recorded. Two shapes: all 100,000 due within 20 seconds (5,000 steps a second, a burst), and the same 100,000 due over 200 seconds (500 a second, about what 100,000 tasks on minutes-long waits produce), of which the first 20 seconds are measured. The engine claims and plans the next batch while Redis records the current one, so the burst is bounded by Redis's CPU a step, which the burst through the binary measures (INFO cpu Δ ÷ steps, under Through the binary).\n\n")
	var tl []row
	for _, shape := range []struct{ name, label string }{{spreadBurst, "all due within 20 s"}, {spreadSteady, "due over 200 s"}} {
		bench := timerLatenessBench + "/" + shape.name
		res, found := p.Find(bench)
		burstNote := func(v float64) string {
			if v <= GoalLatenessP99Ms || !found {
				return ""
			}
			maxMs, _ := res.Metric("max-ms")
			drain := 100000 / (20 + maxMs/1000)
			if shape.name == spreadBurst {
				return fmt.Sprintf("Redis recorded about %.0f steps a second (100,000 in ≈ %.0f s) against the 5,000 a second asked: the backlog, not the engine's timing, is the lateness.", drain, 20+maxMs/1000)
			}
			return fmt.Sprintf("500 steps a second asked; the machine's load (%s at the start) shares the CPUs with Redis", m.LoadAvg)
		}
		tl = append(tl,
			p.lookup(fig{bench: bench, unit: "p50-ms", label: shape.label + ": p50", format: msFmt}),
			p.lookup(fig{bench: bench, unit: "p99-ms", label: shape.label + ": p99", format: msFmt, goal: "≤ 250 ms", ok: le(GoalLatenessP99Ms), note: burstNote}),
			p.lookup(fig{bench: bench, unit: "max-ms", label: shape.label + ": max", format: msFmt}),
			p.lookup(fig{bench: bench, unit: "early", label: shape.label + ": fired early", format: numFmt, goal: "0", ok: le(0)}),
			p.lookup(fig{bench: bench, unit: "steps/s", label: shape.label + ": deadlines a second measured", format: rateFmt}),
		)
	}
	table(b, tl)
}

// renderCallout writes the in-process call-out benchmarks' section.
func renderCallout(b *strings.Builder, r Report) {
	p := &r.Bench
	var co []row
	if _, ok := p.Find(calloutUnpacedBench); ok {
		co = append(co,
			p.lookup(fig{bench: calloutUnpacedBench, unit: "s-to-first-send", label: "unpaced: reply to first SMS sent", format: secFmt, goal: "≤ 1 s", ok: le(GoalFirstSendS)}),
			p.lookup(fig{bench: calloutUnpacedBench, unit: "s-to-last-send", label: "unpaced: reply to the 1,000th SMS sent", format: secFmt, goal: "≤ 2 s", ok: le(GoalCalloutS)}),
		)
	}
	for _, rate := range []string{"10", "100"} {
		bench := calloutPacedBench + rate
		if _, ok := p.Find(bench); !ok {
			continue
		}
		co = append(co,
			p.lookup(fig{bench: bench, unit: "sms/s", label: "paced at " + rate + "/s: rate achieved", format: rateFmt}),
			p.lookup(fig{bench: bench, unit: "%-off-setting", label: "paced at " + rate + "/s: off the setting", format: pctFmt, goal: "≤ 5%", ok: le(GoalPacedOffPct)}),
		)
	}
	if len(co) == 0 {
		return
	}
	b.WriteString("## Call-out pacing (in process)\n\n")
	b.WriteString("`BenchmarkCallout*` (internal/scenario): a plan whose 1,000 responders each get an SMS through the outbox and the Twilio client, against the fake Twilio answering each request in 50 ms; times are the requests' arrival at the fake. Paced rates are measured over a sample sent once the whole call-out is queued (200 messages at 10/s, 500 at 100/s).\n\n")
	table(b, co)
}

// loadP99Note explains a missed command p99 when the time from the actual
// send meets the goal.
func loadP99Note(p *Parsed, r row) string {
	res, ok := p.Find(loadBench)
	if !ok || r.met != metNo {
		return r.note
	}
	if sent, ok := res.Metric("sent-p99-ms"); ok && sent <= GoalCommandP99Ms {
		return fmt.Sprintf("from the actual send the p99 is %s: the rest is the load generator, in the same process on the same CPUs, sending late", msFmt(sent))
	}
	return r.note
}

// loadPerCPU is the 1-minute load average divided by the CPUs.
func loadPerCPU(m Machine) float64 {
	var l float64
	if _, err := fmt.Sscanf(m.LoadAvg, "%f", &l); err != nil || m.CPUs == 0 {
		return 0
	}
	return l / float64(m.CPUs)
}

// commandLine names a BenchmarkCommandRoundTrips sub-benchmark by the
// command it sends.
func commandLine(name string) string {
	if c, ok := roundTripCommands[name]; ok {
		return "`" + c + "`"
	}
	return name
}

var roundTripCommands = map[string]string{
	"MusterWhoami": "/muster whoami", "MusterHelp": "/muster help", "MusterStatus": "/muster status",
	"IncidentRaise": "/incident raise", "IncidentList": "/incident list", "IncidentShow": "/incident show INC-n",
	"IncidentUpdate": "/incident update INC-n", "IncidentResolve": "/incident resolve INC-n", "IncidentHold": "/incident hold INC-n",
	"PlanList": "/plan list", "PlanShow": "/plan show", "PlanDryrun": "/plan dryrun", "PlanTrigger": "/plan trigger",
	"PlanStatus": "/plan status A-n", "PlanStanddown": "/plan standdown A-n", "Roster": "/roster @site", "RosterWeek": "/roster @site week",
	"RosterCover": "/roster cover", "Ack": "/ack T-n", "Done": "/done T-n", "DrillStart": "/drill start",
	"DrillStop": "/drill stop D-n", "DrillReport": "/drill report D-n", "DrillAction": "/drill action D-n",
	"PlanStatusLatest": "/plan status", "AckNewest": "/ack", "DrillActionList": "/drill action list D-n",
}

// summaryRows are the headline goals, one line each.
func summaryRows(r Report) []row {
	p := &r.Bench
	var rows []row
	if _, ok := p.Find(loadBench); ok {
		cmdP99 := p.lookup(fig{bench: loadBench, unit: "p99-ms", label: "command p99 at 200 req/s (in process)", format: msFmt, goal: "≤ 25 ms", ok: le(GoalCommandP99Ms)})
		cmdP99.note = loadP99Note(p, cmdP99)
		rows = append(rows, cmdP99)
	}
	// Round trips: the worst command, and how many meet the goal.
	var worst float64
	var worstName string
	n, within := 0, 0
	for _, res := range p.Results {
		name, ok := strings.CutPrefix(res.Name, roundTripBench+"/")
		if !ok {
			continue
		}
		v, ok := res.Metric("redis-rt/op")
		if !ok {
			continue
		}
		n++
		if v <= GoalRoundTrips {
			within++
		}
		if v > worst {
			worst, worstName = v, name
		}
	}
	if n == 0 {
		rows = append(rows, p.lookup(fig{bench: roundTripBench, unit: "redis-rt/op", label: "Redis round trips per command", format: numFmt, goal: "≤ 2", ok: le(GoalRoundTrips)}))
	} else {
		note := fmt.Sprintf("%d of %d commands within; the Slack replay check rides on the first", within, n)
		rows = append(rows, row{"Redis round trips per command (worst)", fmt.Sprintf("%s (%s)", trimFloat(worst), commandLine(worstName)), "≤ 2", metStr(worst <= GoalRoundTrips), note})
	}
	for _, shape := range []struct{ name, label string }{{spreadBurst, "all due within 20 s"}, {spreadSteady, "due over 200 s"}} {
		bench := timerLatenessBench + "/" + shape.name
		if _, ok := p.Find(bench); !ok {
			continue
		}
		rw := p.lookup(fig{bench: bench, unit: "p99-ms", label: "timer lateness p99 at 100,000 pending, " + shape.label + " (in process)", format: msFmt, goal: "≤ 250 ms and never early", ok: le(GoalLatenessP99Ms)})
		if res, ok := p.Find(bench); ok {
			if early, ok := res.Metric("early"); ok {
				rw.value += fmt.Sprintf(", %s early", trimFloat(early))
				if early > 0 {
					rw.met = metNo
				}
			}
		}
		rows = append(rows, rw)
	}
	if _, ok := p.Find(calloutUnpacedBench); ok {
		rows = append(rows,
			p.lookup(fig{bench: calloutUnpacedBench, unit: "s-to-last-send", label: "1,000-responder call-out issued, unpaced (in process)", format: secFmt, goal: "≤ 2 s", ok: le(GoalCalloutS)}),
			p.lookup(fig{bench: calloutUnpacedBench, unit: "s-to-first-send", label: "call-out: reply to first send (in process)", format: secFmt, goal: "≤ 1 s", ok: le(GoalFirstSendS)}))
	}
	rows = append(rows,
		p.lookup(fig{bench: calloutPacedBench + "10", unit: "%-off-setting", label: "paced call-out at 10/s, off the setting", format: pctFmt, goal: "≤ 5%", ok: le(GoalPacedOffPct)}),
		p.lookup(fig{bench: calloutPacedBench + "100", unit: "%-off-setting", label: "paced call-out at 100/s, off the setting", format: pctFmt, goal: "≤ 5%", ok: le(GoalPacedOffPct)}),
	)
	rows = append(rows, memoryRows(r)...)
	return rows
}

// memoryRows are the three RSS figures against their goals.
func memoryRows(r Report) []row {
	mem := r.Memory
	if mem == nil {
		return []row{
			{"idle RSS", notRun, "≤ 40 MB", notRun, r.MemorySkip},
			{"RSS with 100,000 open tasks", notRun, "≤ 150 MB", notRun, r.MemorySkip},
			{"RSS growth over the soak", notRun, "≤ 10 MB", notRun, r.MemorySkip},
		}
	}
	var rows []row
	if mem.IdleErr != nil {
		rows = append(rows, row{"idle RSS", notRun, "≤ 40 MB", notRun, mem.IdleErr.Error()})
	} else {
		rows = append(rows, row{"idle RSS", MB(mem.Idle), "≤ 40 MB", metStr(float64(mem.Idle) <= GoalIdleRSSBytes),
			fmt.Sprintf("after %s idle; peak (VmHWM) %s", mem.Settle, MB(mem.IdleHWM))})
	}
	label := fmt.Sprintf("RSS with %s open tasks", thousands(mem.Tasks))
	if mem.TasksErr != nil {
		rows = append(rows, row{label, notRun, "≤ 150 MB", notRun, mem.TasksErr.Error()})
	} else {
		note := fmt.Sprintf("%s timers pending; peak (VmHWM) %s", thousands(int(mem.Pending)), MB(mem.WithTasksHWM))
		if mem.Tasks < goalDeadlines {
			note += "; the goal is for 100,000"
		}
		rows = append(rows, row{label, MB(mem.WithTasks), "≤ 150 MB", metAt(float64(mem.WithTasks) <= GoalTasksRSSBytes, mem.Tasks >= goalDeadlines), note})
	}
	soakLabel := fmt.Sprintf("RSS growth over a %s soak", mem.SoakDuration)
	if mem.SoakErr != nil && len(mem.Soak.Samples) < 2 {
		rows = append(rows, row{soakLabel, notRun, "≤ 10 MB", notRun, mem.SoakErr.Error()})
	} else {
		from, to, growth := soakGrowth(mem)
		note := fmt.Sprintf("from %s (after %s of warm-up) to %s at the end; %d commands, %d failed", MB(from), mem.Warmup, MB(to), mem.Soak.Sent, mem.Soak.Failed+mem.Soak.Unexpected)
		if mem.SoakErr != nil {
			note += "; " + mem.SoakErr.Error()
		}
		rows = append(rows, row{soakLabel, signedMB(growth), "≤ 10 MB (this report's bar; the issue sets none)", metStr(float64(growth) <= GoalSoakGrowthBytes), note})
	}
	return rows
}

// soakGrowth is the RSS at the warm-up mark, at the end, and the growth.
func soakGrowth(mem *Memory) (from, to, growth int64) {
	s := mem.Soak.Samples
	if len(s) == 0 {
		return 0, 0, 0
	}
	from = s[0].RSS
	for _, x := range s {
		if x.At >= mem.Warmup {
			from = x.RSS
			break
		}
	}
	to = s[len(s)-1].RSS
	return from, to, to - from
}

func signedMB(b int64) string {
	if b >= 0 {
		return "+" + MB(b)
	}
	return "−" + MB(-b)
}

// thousands writes n with comma separators.
func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func renderMemory(b *strings.Builder, r Report) {
	b.WriteString("The real binary (`go build ./cmd/muster`) started as `muster serve` on the Redis above, with the example configuration in a fresh namespace, Slack on (its API pointed at the fake Slack, internal/fakeslack) and Discord and Twilio off. RSS is `VmRSS` from `/proc/<pid>/status`; MB are 10^6 bytes.\n\n")
	table(b, memoryRows(r))
	mem := r.Memory
	if mem == nil {
		return
	}
	if mem.TasksErr == nil {
		fmt.Fprintf(b, "The %s open tasks were written straight into the namespace in pipelines of %d (task hash, timer, assignee's open-task index, as a plan trigger leaves them, without activations, timelines or audit events, which live in Redis only) in %s, with first deadlines one to two hours ahead so the engine holds them all pending; then these commands ran over them: %s. RSS was read after %s more.\n\n",
			thousands(mem.Tasks), loadBatch, mem.LoadTook.Round(time.Millisecond), strings.Join(mem.TaskCommands, "; "), mem.Settle)
	}
	if len(mem.Soak.Samples) > 0 {
		fmt.Fprintf(b, "The soak sends signed Slack slash commands one after the other at %s a second for %s, in cycles of about 20 (an incident raised, shown, listed and resolved, rosters, plans, whoami, help, status; every tenth cycle a plan triggered, one task acknowledged and the plan stood down), alternating the two sites so each Slack channel gets fewer than one post a second. %d commands were sent (%d failed, %d answered unexpectedly), %d plans triggered.\n\n",
			trimFloat(mem.SoakRate), mem.SoakDuration, mem.Soak.Sent, mem.Soak.Failed, mem.Soak.Unexpected, mem.Soak.Triggers)
		for _, e := range mem.Soak.Examples {
			fmt.Fprintf(b, "- %s\n", e)
		}
		if len(mem.Soak.Examples) > 0 {
			b.WriteString("\n")
		}
		b.WriteString("RSS during the soak:\n\n| at | RSS |\n|---|---|\n")
		for _, s := range thinSamples(mem.Soak.Samples, 12) {
			fmt.Fprintf(b, "| %s | %s |\n", s.At.Round(time.Second), MB(s.RSS))
		}
		b.WriteString("\n")
		fmt.Fprintf(b, "muster's log during the soak (its stop included): %d lines, %d warnings, %d errors", mem.SoakLog.Lines, mem.SoakLog.Warn, mem.SoakLog.Error)
		if len(mem.SoakLog.Top) > 0 {
			b.WriteString(": " + strings.Join(mem.SoakLog.Top, "; "))
		}
		b.WriteString(".\n\n")
		if len(mem.SoakLog.Examples) > 0 {
			b.WriteString("<details><summary>The first line of each kind of warning and error</summary>\n\n```\n")
			for _, e := range mem.SoakLog.Examples {
				b.WriteString(e + "\n")
			}
			b.WriteString("```\n\n</details>\n\n")
		}
	}
}

// thinSamples keeps at most n samples, evenly spread, first and last
// included.
func thinSamples(s []RSSSample, n int) []RSSSample {
	if len(s) <= n {
		return s
	}
	out := make([]RSSSample, 0, n)
	for i := range n {
		out = append(out, s[int(math.Round(float64(i)*float64(len(s)-1)/float64(n-1)))])
	}
	return out
}

// covered says whether a benchmark has its own section.
func covered(name string) bool {
	for _, prefix := range []string{timerLatenessBench, loadBench, roundTripBench, slackCommandBench, calloutUnpacedBench, calloutPacedBench, auditAppendBench, raiseChainedBench} {
		if name == prefix || strings.HasPrefix(name, prefix+"/") || (prefix == calloutPacedBench && strings.HasPrefix(name, prefix)) {
			return true
		}
	}
	return false
}

// renderOthers lists every benchmark without a section of its own, with
// all its figures, so a new benchmark shows up before anyone writes a
// section for it.
func renderOthers(b *strings.Builder, p *Parsed) {
	var others []Result
	for _, r := range p.Results {
		if !covered(r.Name) {
			others = append(others, r)
		}
	}
	if len(others) == 0 {
		return
	}
	b.WriteString("## Other benchmarks\n\nNo goal of their own yet.\n\n| package | benchmark | iterations | figures |\n|---|---|---|---|\n")
	for _, r := range others {
		units := make([]string, 0, len(r.Metrics))
		for u := range r.Metrics {
			units = append(units, u)
		}
		slices.Sort(units)
		var figs []string
		for _, u := range units {
			figs = append(figs, trimFloat(r.Metrics[u])+" "+u)
		}
		fmt.Fprintf(b, "| %s | %s | %d | %s |\n", cell(r.Pkg), cell(r.Name), r.N, cell(strings.Join(figs, ", ")))
	}
	b.WriteString("\n")
}

// renderProblems lists skipped and failed benchmarks and packages that
// did not build.
func renderProblems(b *strings.Builder, p *Parsed) {
	var bad []PkgStatus
	for _, s := range p.Packages {
		if s.Status != "ok" && s.Status != "no test files" {
			bad = append(bad, s)
		}
	}
	if len(p.Outcomes) == 0 && len(bad) == 0 {
		return
	}
	b.WriteString("## Skipped and failed\n\n")
	for _, o := range p.Outcomes {
		fmt.Fprintf(b, "- %s `%s` (%s): %s\n", o.Kind, o.Name, o.Pkg, o.Message)
	}
	for _, s := range bad {
		fmt.Fprintf(b, "- package %s: %s\n", s.Pkg, s.Status)
	}
	b.WriteString("\n")
}

// howHeading starts the details of make bench's run.
const howHeading = "\n## How it was run\n"

func renderHow(b *strings.Builder, r Report) {
	b.WriteString(howHeading[1:] + "\n```\n" + r.Command + "\n```\n\n")
	if len(r.Knobs) > 0 {
		b.WriteString("| setting | value |\n|---|---|\n")
		for _, k := range r.Knobs {
			fmt.Fprintf(b, "| %s | %s |\n", cell(k[0]), cell(k[1]))
		}
		b.WriteString("\n")
	}
	if len(r.GoTest) == 0 {
		b.WriteString("The go test benchmarks were left out of this run (-skip-bench).\n\n")
	} else {
		b.WriteString("It ran these, one package at a time (`-p 1`) so benchmarks do not compete with each other:\n\n```\n")
		for _, c := range r.GoTest {
			b.WriteString(c + "\n")
		}
		b.WriteString("```\n\n")
	}
	b.WriteString("then built `cmd/muster` and measured `muster serve` as described under Memory.\n\n")
}

// renderRaw appends the benchmark lines as go test printed them.
func renderRaw(b *strings.Builder, p *Parsed) {
	if len(p.Results) == 0 {
		return
	}
	b.WriteString("<details><summary>Raw benchmark lines</summary>\n\n```\n")
	pkg := ""
	for _, r := range p.Results {
		if r.Pkg != pkg {
			pkg = r.Pkg
			fmt.Fprintf(b, "pkg: %s\n", pkg)
		}
		units := make([]string, 0, len(r.Metrics))
		for u := range r.Metrics {
			units = append(units, u)
		}
		slices.Sort(units)
		var figs []string
		for _, u := range units {
			figs = append(figs, strconv.FormatFloat(r.Metrics[u], 'g', -1, 64)+" "+u)
		}
		fmt.Fprintf(b, "%s\t%d\t%s\n", r.Name, r.N, strings.Join(figs, "\t"))
		for _, l := range r.Log {
			fmt.Fprintf(b, "    %s\n", l)
		}
	}
	b.WriteString("```\n\n</details>\n")
}

// earlierHeading starts the part of the report that keeps earlier runs;
// earlierIntro says what is in it.
const (
	earlierHeading = "\n## Earlier runs\n"
	earlierIntro   = "Each earlier run's summary as it was printed, and each separately measured section that a run on another CPU replaced, under the machine it ran on (the one replaced last first): a figure from one machine says little about another, and the goals and the code have moved since.\n\n"
)

var (
	reportDate = regexp.MustCompile(`on (\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC)`)
	reportCPU  = regexp.MustCompile(`(?m)^\| CPU \| (.*) \|$`)
)

// CarryEarlier keeps an earlier report's figures apart from the new one:
// the earlier report's summary, under its date and CPU, goes first in the
// "Earlier runs" section, then the entries in moved (sections of other
// machines the new report replaced), then the runs that report carried.
// It returns "" when there is nothing to carry.
func CarryEarlier(old string, moved ...string) string {
	if strings.TrimSpace(old) == "" && len(moved) == 0 {
		return ""
	}
	cur, earlier, _ := strings.Cut(old, earlierHeading)
	if i := strings.Index(earlier, "\n### "); i >= 0 {
		earlier = earlier[i+1:]
	} else if !strings.HasPrefix(earlier, "### ") {
		earlier = ""
	}
	var b strings.Builder
	b.WriteString(earlierHeading)
	b.WriteString("\n" + earlierIntro)
	date, cpu := "an unknown date", "an unknown CPU"
	if m := reportDate.FindStringSubmatch(cur); m != nil {
		date = m[1]
	}
	if m := reportCPU.FindStringSubmatch(cur); m != nil {
		cpu = m[1]
	}
	if _, sum, ok := strings.Cut(cur, "\n## Summary\n"); ok {
		if i := strings.Index(sum, "\n## "); i >= 0 {
			sum = sum[:i]
		}
		fmt.Fprintf(&b, "### %s, %s\n\n%s\n\n", date, cpu, strings.TrimSpace(sum))
	}
	for _, m := range moved {
		b.WriteString(m)
	}
	if earlier != "" {
		b.WriteString(strings.TrimSpace(earlier) + "\n")
	}
	return b.String()
}
