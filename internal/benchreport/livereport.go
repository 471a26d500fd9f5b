package benchreport

import (
	"fmt"
	"strings"
	"time"
)

// Goals of issue 12 (cheap steps), measured through the binary.
const (
	GoalStepCPU        = 50 * time.Microsecond  // Redis CPU per escalation step over a burst
	GoalLateP99        = 250 * time.Millisecond // lateness p99, 100,000 due within 20 s
	GoalLateMax        = time.Second            // lateness max, same burst
	GoalCalloutSent    = time.Second            // 1,000-responder call-out fully sent, pacing off
	GoalCommandP99     = 25 * time.Millisecond  // signed command p99 at 200/s for 5 minutes
	GoalCapacity       = 1000.0                 // mixed commands a second at p99 <= 25 ms
	GoalBytesPerTask   = 2048                   // Redis memory per open task as a trigger leaves it
	liveLoadGoalMinute = 5 * time.Minute        // the sustained load's length in the goal
)

func durFmt(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	case d >= 10*time.Microsecond:
		return fmt.Sprintf("%.0f µs", float64(d)/1e3)
	}
	return fmt.Sprintf("%.1f µs", float64(d)/1e3)
}

func errRow(figure, goal string, err error) row {
	return row{figure, notRun, goal, notRun, err.Error()}
}

// metNotShown marks a figure that meets its goal in a run smaller or
// shorter than the goal states (20,000 deadlines for 100,000, 30 s for
// 5 minutes): it has not shown the goal. Such a run that misses the goal
// misses it.
const metNotShown = "not shown"

// metAt is met? for a goal stated at a size: ok says the figure is within
// it, full that the run was as big as the goal says.
func metAt(ok, full bool) string {
	switch {
	case !ok:
		return metNo
	case !full:
		return metNotShown
	}
	return metYes
}

// The goals of issue 12 through the binary, as the summary names them.
const (
	goalStepCPULabel  = "≤ 50 µs"
	goalLateP99Label  = "≤ 250 ms"
	goalLateMaxLabel  = "≤ 1 s"
	goalCalloutLabel  = "≤ 1 s"
	goalCommandLabel  = "≤ 25 ms"
	goalCapacityLabel = "≥ 1,000/s"
	goalPerTaskLabel  = "≤ 2 KB (2,048 B)"
	goalDeadlines     = 100_000
	goalSpread        = 20 * time.Second
	goalResponders    = 1000
)

// liveMiss says why a load run missed the command goal ("" when it met it).
func liveMiss(ld LoadResult) string {
	var why []string
	if ld.P99 > GoalCommandP99 {
		why = append(why, "p99 over 25 ms")
	}
	if ld.Failed > 0 {
		why = append(why, fmt.Sprintf("%d failed", ld.Failed))
	}
	if ld.Shed > 0 {
		why = append(why, fmt.Sprintf("%d shed", ld.Shed))
	}
	if ld.Dropped > 0 {
		why = append(why, fmt.Sprintf("%d not sent", ld.Dropped))
	}
	if ld.Achieved < ld.Rate*0.95 {
		why = append(why, fmt.Sprintf("sent at %.1f/s, more than 5%% short", ld.Achieved))
	}
	if ld.Err != nil {
		why = append(why, ld.Err.Error())
	}
	if len(why) == 0 && !ld.Met(GoalCommandP99) {
		why = append(why, "nothing sent")
	}
	return strings.Join(why, ", ")
}

// apart says what Split found, unless the two windows' figures do not
// separate (a negative share: too few SMS sent after the last step).
func apart(step, msg time.Duration) string {
	if step <= 0 || msg <= 0 {
		return "a step's and an SMS's shares do not separate from these figures"
	}
	return fmt.Sprintf("apart: %s a step, %s an SMS sent", durFmt(step), durFmt(msg))
}

// splitFmt is one of Split's shares, or why there is none.
func splitFmt(step, msg, share time.Duration) string {
	if step <= 0 || msg <= 0 {
		return "does not separate"
	}
	return durFmt(share)
}

// liveSummary are the issue 12 goals measured through the binary, each
// beside its figure; a goal whose part did not run says why.
func liveSummary(r Report) []row {
	l := r.Live
	skipped := func(part string) string {
		switch {
		case r.Live == nil:
			return r.LiveSkip
		case r.LiveOptions.Skip[part]:
			return "left out of this run (BENCH_LIVE_SKIP)"
		}
		return "not measured"
	}
	if l == nil {
		l = &Live{}
	}
	var rows []row
	cpuLbl := "Redis CPU per escalation step, over a burst (INFO cpu Δ ÷ steps)"
	writesLbl := "Redis writes per step, over the same burst"
	lateLbl := "lateness p99, 100,000 deadlines due within 20 s"
	maxLbl, earlyLbl := "lateness max, same burst", "steps fired early, same burst"
	switch b := l.Burst; {
	case b == nil || b.Err != nil:
		why := skipped("burst")
		if b != nil {
			why = b.Err.Error()
		}
		for _, g := range [][2]string{{cpuLbl, goalStepCPULabel}, {writesLbl, "—"}, {lateLbl, goalLateP99Label}, {maxLbl, goalLateMaxLabel}, {earlyLbl, "0"}} {
			rows = append(rows, row{g[0], notRun, g[1], notRun, why})
		}
	default:
		per := PerStep(b.Steady.CPU, b.Steps)
		step, msg := b.Split()
		full := b.Deadlines >= goalDeadlines && b.Spread <= goalSpread
		size := ""
		if !full {
			size = fmt.Sprintf("; this burst: %s deadlines within %s", thousands(b.Deadlines), durFmt(b.Spread))
		}
		rows = append(rows,
			row{cpuLbl, durFmt(per), goalStepCPULabel, metStr(per <= GoalStepCPU),
				fmt.Sprintf("a burst of %s deadlines, from the first deadline to the last step, outbox and sealer running (%s SMS sent meanwhile); %s", thousands(b.Deadlines), thousands(b.SMSAtSteps), apart(step, msg))},
			row{writesLbl, fmt.Sprintf("%.1f", float64(b.Steady.Writes())/float64(max(b.Steps, 1))), "—", metNA,
				fmt.Sprintf("%.1f with its SMS sent and sealed (%s of Redis CPU a step)", float64(b.All.Writes())/float64(max(b.Steps, 1)), durFmt(PerStep(b.All.CPU, b.Steps)))},
			row{lateLbl, durFmt(b.P99), goalLateP99Label, metAt(b.P99 <= GoalLateP99, full),
				fmt.Sprintf("p50 %s; %s steps in %s%s", durFmt(b.P50), thousands(b.Steps), durFmt(b.StepsWindow), size)},
			row{maxLbl, durFmt(b.Max), goalLateMaxLabel, metAt(b.Max <= GoalLateMax, full), strings.TrimPrefix(size, "; ")},
			row{earlyLbl, fmt.Sprint(b.Early), "0", metStr(b.Early == 0), ""},
		)
	}
	calloutLbl := fmt.Sprintf("%s-responder call-out fully sent, pacing off", thousands(goalResponders))
	switch c := l.Callout; {
	case c == nil:
		rows = append(rows, row{calloutLbl, notRun, goalCalloutLabel, notRun, skipped("callout")})
	case c.Err != nil:
		rows = append(rows, errRow(calloutLbl, goalCalloutLabel, c.Err))
	default:
		note := fmt.Sprintf("from the trigger command's send to the last SMS reaching the fake Twilio; the trigger answered in %s, the first SMS at %s", durFmt(c.Reply), durFmt(c.First))
		if c.Responders < goalResponders {
			note += fmt.Sprintf("; this call-out: %s responders", thousands(c.Responders))
		}
		rows = append(rows, row{calloutLbl, durFmt(c.Last), goalCalloutLabel, metAt(c.Last <= GoalCalloutSent, c.Responders >= goalResponders), note})
	}
	loadLbl := "signed command p99 at 200/s sustained for 5 minutes, mix with trigger and ack and the escalations they cause"
	switch ld := l.Load; {
	case ld == nil:
		rows = append(rows, row{loadLbl, notRun, goalCommandLabel, notRun, skipped("load")})
	case ld.Err != nil && ld.Sent == 0:
		rows = append(rows, errRow(loadLbl, goalCommandLabel, ld.Err))
	default:
		note := fmt.Sprintf("from each command's scheduled send; %s sent at %.1f/s, %d failed, %d shed, %d not sent; %d escalation steps and %d messages sent meanwhile", thousands(ld.Sent), ld.Achieved, ld.Failed, ld.Shed, ld.Dropped, ld.Steps, ld.Sends)
		full := ld.For >= liveLoadGoalMinute && ld.Rate >= GoalLoadRate
		if !full {
			note += fmt.Sprintf("; this run: %s/s for %s", trimFloat(ld.Rate), ld.For)
		}
		if why := liveMiss(*ld); why != "" {
			note += "; missed: " + why
		}
		rows = append(rows, row{loadLbl, durFmt(ld.P99), goalCommandLabel, metAt(ld.Met(GoalCommandP99), full), note})
	}
	capLbl := "capacity: mixed commands a second at p99 ≤ 25 ms"
	if len(l.Capacity) == 0 {
		rows = append(rows, row{capLbl, notRun, goalCapacityLabel, notRun, skipped("capacity")})
	} else {
		best := 0.0
		var tried []string
		for _, c := range l.Capacity {
			t := fmt.Sprintf("%s/s: p99 %s", trimFloat(c.Rate), durFmt(c.P99))
			if c.Met(GoalCommandP99) {
				best = max(best, c.Rate)
			} else {
				t += " (missed: " + liveMiss(c) + ")"
			}
			tried = append(tried, t)
		}
		rows = append(rows, row{capLbl, trimFloat(best) + "/s", goalCapacityLabel, metStr(best >= GoalCapacity), strings.Join(tried, "; ")})
	}
	memLbl := "Redis memory per open task, as a trigger leaves it"
	switch m := l.Memory; {
	case m == nil:
		rows = append(rows, row{memLbl, notRun, goalPerTaskLabel, notRun, skipped("memory")})
	case m.Err != nil:
		rows = append(rows, errRow(memLbl, goalPerTaskLabel, m.Err))
	default:
		per := m.Bytes / int64(max(m.Tasks, 1))
		rows = append(rows, row{memLbl, fmt.Sprintf("%d B", per), goalPerTaskLabel, metStr(per <= GoalBytesPerTask),
			fmt.Sprintf("used_memory grew %s for a trigger of %s tasks", MB(m.Bytes), thousands(m.Tasks))})
	}
	return rows
}

// renderLive writes the section about the measurements through the binary.
func renderLive(b *strings.Builder, r Report) {
	b.WriteString("## Through the binary\n\n")
	l := r.Live
	if l == nil {
		fmt.Fprintf(b, "Not run: %s.\n\n", r.LiveSkip)
		return
	}
	o := r.LiveOptions
	b.WriteString("Each part starts the real `muster serve` (built from this tree) in a fresh namespace on the Redis above, with Slack on (its API the fake Slack, internal/fakeslack), Twilio on (its API the fake Twilio, internal/faketwilio, answering each request in " + durFmt(o.TwilioLatency) + ") at `twilio.rate: 10000`, the highest the config takes, so pacing never holds an SMS back, and the audit key set, so the sealer signs. The engine, the outbox delivery and the sealer run as in production. ")
	b.WriteString("Redis figures are Redis's own (INFO cpu: `used_cpu_user` + `used_cpu_sys`; INFO commandstats, commands inside scripts counted one by one; writes are the commands that change data), read before and after each measurement, so they include everything muster and the harness asked of Redis meanwhile.\n\n")
	if bu := l.Burst; bu != nil {
		fmt.Fprintf(b, "### A burst of %s deadlines\n\n", thousands(bu.Deadlines))
		fmt.Fprintf(b, "%s open tasks (as a plan trigger leaves them: task hash, timer, assignee's open tasks) are written straight into the namespace, each assigned to one of the %s call-out responders with a policy that escalates to them by SMS, their first deadlines at random within %s starting %s after loading (which took %s). Lateness is from each deadline to the stream id of the step's audit event (Redis's clock when the step was written); a step is early when that is before its deadline. The Redis CPU a step is read over the burst: from the first deadline to the last step recorded, while the outbox sends the steps' SMS and the sealer seals; \"apart\" solves for a step's and an SMS's own share from that window and the one until every SMS is sent and sealed.\n\n",
			thousands(bu.Deadlines), thousands(o.Responders), bu.Spread, durFmt(10*time.Second), durFmt(bu.LoadTook))
		if bu.Err != nil {
			fmt.Fprintf(b, "Not measured: %s.\n\n", bu.Err)
		} else {
			step, msg := bu.Split()
			full := bu.Deadlines >= goalDeadlines && bu.Spread <= goalSpread
			table(b, []row{
				{"steps recorded", thousands(bu.Steps), "—", metNA, fmt.Sprintf("in %s from the first deadline", durFmt(bu.StepsWindow))},
				{"lateness p50", durFmt(bu.P50), "—", metNA, ""},
				{"lateness p99", durFmt(bu.P99), goalLateP99Label, metAt(bu.P99 <= GoalLateP99, full), ""},
				{"lateness max", durFmt(bu.Max), goalLateMaxLabel, metAt(bu.Max <= GoalLateMax, full), ""},
				{"fired early", fmt.Sprint(bu.Early), "0", metStr(bu.Early == 0), ""},
				{"Redis CPU a step, over the burst", durFmt(PerStep(bu.Steady.CPU, bu.Steps)), "≤ 50 µs", metStr(PerStep(bu.Steady.CPU, bu.Steps) <= GoalStepCPU), fmt.Sprintf("%s SMS sent meanwhile", thousands(bu.SMSAtSteps))},
				{"Redis writes a step, over the burst", fmt.Sprintf("%.1f", float64(bu.Steady.Writes())/float64(max(bu.Steps, 1))), "—", metNA, ""},
				{"Redis CPU a step, its SMS sent and sealed", durFmt(PerStep(bu.All.CPU, bu.Steps)), "—", metNA, fmt.Sprintf("all %s SMS sent and every event sealed %s after the first deadline", thousands(bu.SMS), durFmt(bu.DrainWindow))},
				{"Redis writes a step, its SMS sent and sealed", fmt.Sprintf("%.1f", float64(bu.All.Writes())/float64(max(bu.Steps, 1))), "—", metNA, ""},
				{"apart: Redis CPU of a step alone", splitFmt(step, msg, step), "—", metNA, ""},
				{"apart: Redis CPU of an SMS sent", splitFmt(step, msg, msg), "—", metNA, "the status read, the group acknowledgement, the message.sent event, the SID's mapping, its share of the sealer"},
			})
			fmt.Fprintf(b, "Busiest Redis commands over the burst: %s.\n\n", strings.Join(bu.Steady.Top(10), "; "))
			fmt.Fprintf(b, "muster's log over the burst: %d lines, %d warnings, %d errors.\n\n", bu.ServeLog.Lines, bu.ServeLog.Warn, bu.ServeLog.Error)
		}
	}
	if c := l.Callout; c != nil {
		fmt.Fprintf(b, "### A %s-responder call-out\n\n", thousands(c.Responders))
		fmt.Fprintf(b, "A signed `/plan trigger callout @harbour` as a supervisor: the plan has one task per responder, each escalating at once to its responder by SMS. Times are from the command's send to each SMS's arrival at the fake Twilio.\n\n")
		if c.Err != nil {
			fmt.Fprintf(b, "Not measured: %s.\n\n", c.Err)
		} else {
			table(b, []row{
				{"trigger answered", durFmt(c.Reply), "—", metNA, ""},
				{"first SMS", durFmt(c.First), "—", metNA, ""},
				{fmt.Sprintf("last of %s SMS (all sent)", thousands(c.Responders)), durFmt(c.Last), goalCalloutLabel, metAt(c.Last <= GoalCalloutSent, c.Responders >= goalResponders), ""},
				{"Redis CPU a task (trigger, step, SMS, seal)", durFmt(PerStep(c.Redis.CPU, c.Responders)), "—", metNA, fmt.Sprintf("%.1f writes a task", float64(c.Redis.Writes())/float64(max(c.Responders, 1)))},
			})
		}
	}
	if m := l.Memory; m != nil {
		b.WriteString("### Redis memory per open task\n\n")
		b.WriteString("`muster console` (the real binary, a client on the shared Redis: it escalates and sends nothing) triggers the call-out plan twice in a fresh namespace; Redis's `used_memory` is read before and after the second trigger (the first makes what an organization has once: its streams, sequences, consumer group). What a trigger leaves: each task's hash, timer and open-task entry, its audit event, the activation, the broadcast in the outbox.\n\n")
		if m.Err != nil {
			fmt.Fprintf(b, "Not measured: %s.\n\n", m.Err)
		} else {
			per := m.Bytes / int64(max(m.Tasks, 1))
			table(b, []row{{"bytes per open task", fmt.Sprint(per), "≤ 2,048", metStr(per <= GoalBytesPerTask), fmt.Sprintf("%s tasks, used_memory +%d bytes", thousands(m.Tasks), m.Bytes)}})
		}
	}
	if l.Load != nil || len(l.Capacity) > 0 {
		b.WriteString("### Signed commands under load\n\n")
		b.WriteString("An open-loop load generator (in the harness's process, on the same two CPUs) sends signed Slack slash commands to `/slack/commands` at a fixed rate, each at its scheduled time whatever the answers before it, and measures each answer from that scheduled time. The mix cycles through 40 commands: reads (incident lists, rosters, `/muster status`, whoami, help, `/plan status`, list, show, dryrun), two incidents raised and one resolved, one `/plan trigger fire-evacuation` (three tasks, whose first steps post to chat and send SMS at once and whose later steps call) and four `/ack T-n` of the tasks triggered, by the coordinator. Every step the triggers cause runs meanwhile. Each rate runs against a fresh `muster serve`.\n\n")
		var rows []row
		add := func(ld LoadResult, goal string, full bool) {
			if ld.Err != nil && ld.Sent == 0 {
				rows = append(rows, errRow(fmt.Sprintf("%s/s for %s", trimFloat(ld.Rate), ld.For), goal, ld.Err))
				return
			}
			note := fmt.Sprintf("sent %s at %.1f/s; p50 %s, p99.9 %s, max %s; p99 from the actual send %s; %d failed, %d not sent (%d waiting); %d triggers, %d acks, %d steps, %d sends; Redis CPU %s a command",
				thousands(ld.Sent), ld.Achieved, durFmt(ld.P50), durFmt(ld.P999), durFmt(ld.Max), durFmt(ld.SentP99), ld.Failed, ld.Dropped, MaxInFlight, ld.Triggers, ld.Acks, ld.Steps, ld.Sends,
				durFmt(PerStep(ld.Redis.CPU, ld.Sent)))
			if why := liveMiss(ld); why != "" {
				note += "; missed: " + why
			}
			if len(ld.Examples) > 0 {
				note += "; first failure: " + ld.Examples[0]
			}
			rows = append(rows, row{fmt.Sprintf("p99 at %s/s for %s", trimFloat(ld.Rate), ld.For), durFmt(ld.P99), goal, metAt(ld.Met(GoalCommandP99), full), note})
		}
		if l.Load != nil {
			add(*l.Load, "≤ 25 ms for 5 minutes at 200/s", l.Load.For >= liveLoadGoalMinute && l.Load.Rate >= GoalLoadRate)
		}
		for _, c := range l.Capacity {
			add(c, "≤ 25 ms", true)
		}
		table(b, rows)
		if len(l.Capacity) > 0 {
			b.WriteString("The capacity search tries each rate in turn and stops at the first that misses the goal (p99 over 25 ms, a command failed or not sent, or the rate sent more than 5% short).\n\n")
		}
	}
}
