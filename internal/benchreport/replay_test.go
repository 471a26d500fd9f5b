package benchreport_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/internal/testtime"
	"github.com/muster-ops/muster/store"
)

// replica starts a second muster (its own store client, service and Slack
// adapter) on the same Redis and namespace as e, as a second replica
// behind a load balancer would be, and returns its URL and round-trip
// counter.
func (e *rtEnv) replica(t testing.TB) (string, *storetest.RoundTrips) {
	t.Helper()
	var st *store.Store
	if e.st.Embedded() {
		st = storetest.OpenURL(t, "redis://"+e.st.Addr(), e.st.Namespace(), e.clock.Now)
	} else {
		st = storetest.OpenNamespace(t, e.st.Namespace(), e.clock.Now)
	}
	rt := storetest.CountRoundTrips(st)
	_, url := serveSlack(t, st, e.clock)
	return url, rt
}

// state is what any change of a command leaves a trace in: the audit
// stream's length, the change feed, the outbox, the timers and the record
// counters.
type state struct {
	auditSeq, changes, outbox, timers string
	incidents, activations, overrides string
	actions                           string
}

func (e *rtEnv) state(t testing.TB) state {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := e.st.Client()
	get := func(key string) string { return c.Get(ctx, e.st.Key(key)).Val() }
	return state{
		auditSeq:    itoa(c.XLen(ctx, e.st.Key("audit")).Val()),
		changes:     itoa(c.XLen(ctx, e.st.Key("changes")).Val()),
		outbox:      itoa(c.XLen(ctx, e.st.Key("outbox")).Val()),
		timers:      itoa(c.ZCard(ctx, e.st.Key("timers")).Val()),
		incidents:   get("seq:incident"),
		activations: get("seq:activation"),
		overrides:   get("seq:override"),
		actions:     get("seq:action"),
	}
}

// A correctly signed slash command sent again changes nothing, whether the
// copy goes to the replica that ran it or to another replica on the same
// Redis: both refuse it with 401 (as any request that fails verification)
// and no record, audit event, change, outgoing message or timer appears.
// Every command of the grammar is tried, the mutating ones (raise, ack,
// done, trigger, stand-down, cover, drill start/stop/action) above all.
func TestReplayedCommandChangesNothing(t *testing.T) {
	for _, c := range rtCases {
		t.Run(c.name, func(t *testing.T) { replayChangesNothing(t, newRTEnv(t), c) })
	}
}

// TestReplayedCommandChangesNothingAnyDay is the same on fourteen
// consecutive days, whoever is on duty (one store and two replicas a
// day, the cases one after another).
func TestReplayedCommandChangesNothingAnyDay(t *testing.T) {
	for _, day := range testtime.Days(14) {
		t.Run(day.Format("2006-01-02"), func(t *testing.T) {
			e := newRTEnvAt(t, day)
			for _, c := range rtCases {
				t.Run(c.name, func(t *testing.T) { replayChangesNothing(t, e, c) })
			}
		})
	}
}

func replayChangesNothing(t *testing.T, e *rtEnv, c rtCase) {
	t.Helper()
	other, otherRT := e.replica(t)
	text := c.setup(t, e)
	req := e.sign(c.user, c.command, text)
	before := e.state(t)
	if _, _, _ = e.postSigned(t, req); c.mutates() && e.state(t) == before {
		t.Fatalf("%s %s changed nothing the first time: the check below would prove nothing", c.command, text)
	}
	after := e.state(t)
	for _, to := range []struct {
		name string
		url  string
		rt   *storetest.RoundTrips
	}{{"same replica", e.url, e.rt}, {"other replica", other, otherRT}} {
		code, raw, _ := send(t, to.url, to.rt, req)
		if code != http.StatusUnauthorized {
			t.Errorf("%s %s sent again to the %s: HTTP %d %s, want 401", c.command, text, to.name, code, raw)
		}
		if got := e.state(t); got != after {
			t.Errorf("%s %s sent again to the %s changed the records:\n got %+v\nwant %+v", c.command, text, to.name, got, after)
		}
	}
}

// mutates reports whether the case's command changes records.
func (c rtCase) mutates() bool {
	switch c.name {
	case "IncidentRaise", "IncidentUpdate", "IncidentResolve", "IncidentHold", "PlanTrigger", "PlanStanddown",
		"RosterCover", "Ack", "AckNewest", "Done", "DrillStart", "DrillStop", "DrillAction":
		return true
	}
	return false
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
