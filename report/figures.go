package report

import (
	"slices"
	"time"

	"github.com/muster-ops/muster/store"
)

// TaskFigures is what a task's record says about how it was answered.
// Every report (chat and command line, drill and review) takes its task
// numbers from here, so they agree, and they survive a prune of the
// audit events.
type TaskFigures struct {
	Task *store.Task
	// Simulated: a live-only task of a drill, never sent.
	Simulated bool
	// Holders are everyone who held the task, in order, each once.
	Holders []string
	// NotAnswered are the holders who did not answer it: all of them but
	// whoever acknowledged it. A repeating policy that hands the task back
	// to someone does not list them twice.
	NotAnswered []string
	// AckedBy and AckedAt are the acknowledgement (or the "done" that
	// came without one); empty when nobody answered.
	AckedBy string
	AckedAt time.Time
	// StepsRun counts the escalation steps that ran (the first notice is
	// step 1); none run after an acknowledgement.
	StepsRun int
	// RanOut: every step ran without an answer (the task was marked
	// unanswered). An acknowledgement may still have come afterwards.
	RanOut bool
}

// Figures reads a task's figures from its record.
func Figures(t *store.Task) TaskFigures {
	f := TaskFigures{Task: t, Simulated: t.Status == store.TaskSimulated, Holders: t.Holders(),
		AckedBy: t.AckedBy, AckedAt: t.AckedAt, StepsRun: t.Step}
	f.RanOut = !t.UnansweredAt.IsZero() || t.Status == store.TaskUnanswered
	if f.RanOut {
		// Marking a task unanswered counts as a step in its record.
		f.StepsRun = max(f.StepsRun-1, 0)
	}
	if f.AckedAt.IsZero() {
		f.AckedBy = ""
	}
	for _, p := range f.Holders {
		if p != f.AckedBy {
			f.NotAnswered = append(f.NotAnswered, p)
		}
	}
	if f.Simulated {
		f.NotAnswered = nil
	}
	return f
}

// Acked reports whether anyone acknowledged (or finished) the task.
func (f TaskFigures) Acked() bool { return !f.AckedAt.IsZero() }

// Unanswered: the escalation ran out and nobody has answered since.
func (f TaskFigures) Unanswered() bool { return f.RanOut && !f.Acked() }

// AckedLate: acknowledged only after the escalation ran out.
func (f TaskFigures) AckedLate() bool { return f.RanOut && f.Acked() }

// TimeToAck is the time from the task's creation to its acknowledgement
// (0 when nobody acknowledged it).
func (f TaskFigures) TimeToAck() time.Duration {
	if !f.Acked() {
		return 0
	}
	return f.AckedAt.Sub(f.Task.Created)
}

// Escalations counts the steps beyond the first notice that ran before
// the acknowledgement (all of them when none came).
func (f TaskFigures) Escalations() int { return max(f.StepsRun-1, 0) }

// DrillFigures is the after-action result of one drill.
type DrillFigures struct {
	Drill *store.Drill
	Act   *store.Activation
	Tasks []TaskFigures
	// Passed: every task that was sent was acknowledged within the
	// drill's target (any acknowledgement when it has none).
	Passed bool
	// Slowest is the longest time to acknowledge among the tasks that
	// were acknowledged.
	Slowest time.Duration
	// NonResponders: everyone who held a task and did not answer it, in
	// the order of the tasks, each once.
	NonResponders []string
	// Participants: everyone who held, or acknowledged, a task.
	Participants []string
}

// DrillResult works out a drill's result from its records: the drill, its
// activation and the activation's tasks (store.DrillWithTasks reads them
// in one round trip).
func DrillResult(d *store.Drill, act *store.Activation, tasks []*store.Task) *DrillFigures {
	o := &DrillFigures{Drill: d, Act: act, Passed: true}
	add := func(list *[]string, ids ...string) {
		for _, id := range ids {
			if id != "" && !slices.Contains(*list, id) {
				*list = append(*list, id)
			}
		}
	}
	for _, t := range tasks {
		f := Figures(t)
		o.Tasks = append(o.Tasks, f)
		if f.Simulated {
			continue
		}
		add(&o.Participants, f.Holders...)
		add(&o.Participants, f.AckedBy)
		add(&o.NonResponders, f.NotAnswered...)
		if !f.Acked() {
			o.Passed = false
			continue
		}
		o.Slowest = max(o.Slowest, f.TimeToAck())
		if d.Target > 0 && f.TimeToAck() > d.Target {
			o.Passed = false
		}
	}
	return o
}
