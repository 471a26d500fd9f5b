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

// liveSummary are the issue 12 goals measured through the binary.
func liveSummary(r Report) []row {
	l := r.Live
	if l == nil {
		return []row{{"measurements through the binary", notRun, "—", notRun, r.LiveSkip}}
	}
	var rows []row
	if b := l.Burst; b != nil {
		lbl := fmt.Sprintf("Redis CPU per escalation step, a burst of %s deadlines (INFO cpu Δ ÷ steps)", thousands(b.Deadlines))
		if b.Err != nil {
			rows = append(rows, errRow(lbl, "≤ 50 µs", b.Err))
		} else {
			per := PerStep(b.Steady.CPU, b.Steps)
			step, msg := b.Split()
			rows = append(rows,
				row{lbl, durFmt(per), "≤ 50 µs", metStr(per <= GoalStepCPU),
					fmt.Sprintf("from the first deadline to the last step, outbox and sealer running (%s SMS sent meanwhile); apart: %s a step, %s an SMS sent", thousands(b.SMSAtSteps), durFmt(step), durFmt(msg))},
				row{"Redis writes per step", fmt.Sprintf("%.1f", float64(b.Steady.Writes())/float64(max(b.Steps, 1))), "—", metNA,
					fmt.Sprintf("%.1f with its SMS sent and sealed (%s of Redis CPU a step)", float64(b.All.Writes())/float64(max(b.Steps, 1)), durFmt(PerStep(b.All.CPU, b.Steps)))},
				row{fmt.Sprintf("lateness p99, %s due within %s", thousands(b.Deadlines), b.Spread), durFmt(b.P99), "≤ 250 ms", metStr(b.P99 <= GoalLateP99),
					fmt.Sprintf("p50 %s; %s steps in %s", durFmt(b.P50), thousands(b.Steps), durFmt(b.StepsWindow))},
				row{"lateness max, same burst", durFmt(b.Max), "≤ 1 s", metStr(b.Max <= GoalLateMax), ""},
				row{"steps fired early, same burst", fmt.Sprint(b.Early), "0", metStr(b.Early == 0), ""},
			)
		}
	}
	if c := l.Callout; c != nil {
		lbl := fmt.Sprintf("%s-responder call-out fully sent, pacing off", thousands(c.Responders))
		if c.Err != nil {
			rows = append(rows, errRow(lbl, "≤ 1 s", c.Err))
		} else {
			rows = append(rows, row{lbl, durFmt(c.Last), "≤ 1 s", metStr(c.Last <= GoalCalloutSent),
				fmt.Sprintf("from the trigger command's send to the last SMS reaching the fake Twilio (50 ms a request); the trigger answered in %s, the first SMS at %s", durFmt(c.Reply), durFmt(c.First))})
		}
	}
	if ld := l.Load; ld != nil {
		lbl := fmt.Sprintf("signed command p99 at %s/s for %s, mix with trigger and ack", trimFloat(ld.Rate), ld.For)
		if ld.Err != nil && ld.Sent == 0 {
			rows = append(rows, errRow(lbl, "≤ 25 ms", ld.Err))
		} else {
			note := fmt.Sprintf("from each command's scheduled send; %s sent at %.1f/s, %d failed; %d escalation steps and %d messages sent meanwhile", thousands(ld.Sent), ld.Achieved, ld.Failed, ld.Steps, ld.Sends)
			if ld.For < liveLoadGoalMinute {
				note += fmt.Sprintf("; shorter than the goal's %s", liveLoadGoalMinute)
			}
			rows = append(rows, row{lbl, durFmt(ld.P99), "≤ 25 ms", metStr(ld.Met(GoalCommandP99)), note})
		}
	}
	if len(l.Capacity) > 0 {
		best := 0.0
		var tried []string
		for _, c := range l.Capacity {
			ok := c.Met(GoalCommandP99)
			if ok && c.Rate > best {
				best = c.Rate
			}
			tried = append(tried, fmt.Sprintf("%s/s: p99 %s", trimFloat(c.Rate), durFmt(c.P99)))
		}
		rows = append(rows, row{"capacity: mixed commands a second at p99 ≤ 25 ms", trimFloat(best) + "/s", "≥ 1,000/s",
			metStr(best >= GoalCapacity), strings.Join(tried, "; ")})
	}
	if m := l.Memory; m != nil {
		lbl := "Redis memory per open task, as a trigger leaves it"
		if m.Err != nil {
			rows = append(rows, errRow(lbl, "≤ 2 KB", m.Err))
		} else {
			per := m.Bytes / int64(max(m.Tasks, 1))
			rows = append(rows, row{lbl, fmt.Sprintf("%d B", per), "≤ 2 KB", metStr(per <= GoalBytesPerTask),
				fmt.Sprintf("used_memory grew %s for a trigger of %s tasks", MB(m.Bytes), thousands(m.Tasks))})
		}
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
			table(b, []row{
				{"steps recorded", thousands(bu.Steps), "—", metNA, fmt.Sprintf("in %s from the first deadline", durFmt(bu.StepsWindow))},
				{"lateness p50", durFmt(bu.P50), "—", metNA, ""},
				{"lateness p99", durFmt(bu.P99), "≤ 250 ms", metStr(bu.P99 <= GoalLateP99), ""},
				{"lateness max", durFmt(bu.Max), "≤ 1 s", metStr(bu.Max <= GoalLateMax), ""},
				{"fired early", fmt.Sprint(bu.Early), "0", metStr(bu.Early == 0), ""},
				{"Redis CPU a step, over the burst", durFmt(PerStep(bu.Steady.CPU, bu.Steps)), "≤ 50 µs", metStr(PerStep(bu.Steady.CPU, bu.Steps) <= GoalStepCPU), fmt.Sprintf("%s SMS sent meanwhile", thousands(bu.SMSAtSteps))},
				{"Redis writes a step, over the burst", fmt.Sprintf("%.1f", float64(bu.Steady.Writes())/float64(max(bu.Steps, 1))), "—", metNA, ""},
				{"Redis CPU a step, its SMS sent and sealed", durFmt(PerStep(bu.All.CPU, bu.Steps)), "—", metNA, fmt.Sprintf("all %s SMS sent and every event sealed %s after the first deadline", thousands(bu.SMS), durFmt(bu.DrainWindow))},
				{"Redis writes a step, its SMS sent and sealed", fmt.Sprintf("%.1f", float64(bu.All.Writes())/float64(max(bu.Steps, 1))), "—", metNA, ""},
				{"apart: Redis CPU of a step alone", durFmt(step), "—", metNA, ""},
				{"apart: Redis CPU of an SMS sent", durFmt(msg), "—", metNA, "the status read, the group acknowledgement, the message.sent event, the SID's mapping, its share of the sealer"},
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
				{fmt.Sprintf("%s-th SMS (all sent)", thousands(c.Responders)), durFmt(c.Last), "≤ 1 s", metStr(c.Last <= GoalCalloutSent), ""},
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
		add := func(ld LoadResult, goal string) {
			if ld.Err != nil && ld.Sent == 0 {
				rows = append(rows, errRow(fmt.Sprintf("%s/s for %s", trimFloat(ld.Rate), ld.For), goal, ld.Err))
				return
			}
			note := fmt.Sprintf("sent %s at %.1f/s; p50 %s, p99.9 %s, max %s; p99 from the actual send %s; %d failed, %d not sent (%d waiting); %d triggers, %d acks, %d steps, %d sends; Redis CPU %s a command",
				thousands(ld.Sent), ld.Achieved, durFmt(ld.P50), durFmt(ld.P999), durFmt(ld.Max), durFmt(ld.SentP99), ld.Failed, ld.Dropped, MaxInFlight, ld.Triggers, ld.Acks, ld.Steps, ld.Sends,
				durFmt(PerStep(ld.Redis.CPU, ld.Sent)))
			if len(ld.Examples) > 0 {
				note += "; first failure: " + ld.Examples[0]
			}
			rows = append(rows, row{fmt.Sprintf("p99 at %s/s for %s", trimFloat(ld.Rate), ld.For), durFmt(ld.P99), goal, metStr(ld.Met(GoalCommandP99)), note})
		}
		if l.Load != nil {
			add(*l.Load, "≤ 25 ms")
		}
		for _, c := range l.Capacity {
			add(c, "≤ 25 ms")
		}
		table(b, rows)
		if len(l.Capacity) > 0 {
			b.WriteString("The capacity search tries each rate in turn and stops at the first that misses the goal (p99 over 25 ms, a command failed or not sent, or the rate sent more than 5% short).\n\n")
		}
	}
}
