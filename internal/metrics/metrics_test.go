package metrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/muster-ops/muster/internal/buildinfo"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics = %d", rec.Code)
	}
	return rec.Body.String()
}

// Every muster series is on the very first scrape, before anything
// happened: an alert on a series that does not exist never fires.
func TestEverySeriesOnTheFirstScrape(t *testing.T) {
	m := New(buildinfo.Info{Version: "v9.9.9", Revision: "abc123", GoVersion: "go1.26.8"})
	m.WatchBacklog(func(context.Context) (BacklogFigures, error) {
		return BacklogFigures{DeadlinesPending: 3, OutboxPending: 2, OutboxOldestAge: 90 * time.Second, AuditUnsealed: 7}, nil
	}, time.Second)
	m.Instrument("/slack/commands", "POST", http.NotFoundHandler())
	out := scrape(t, m)
	for _, name := range Names() {
		if !strings.Contains(out, "\n"+name) && !strings.HasPrefix(out, name) {
			t.Errorf("%s is not on the first scrape", name)
		}
	}
	for _, want := range []string{
		`muster_build_info{goversion="go1.26.8",revision="abc123",version="v9.9.9"} 1`,
		`muster_http_requests_total{code="200",handler="/slack/commands",method="post"} 0`,
		`muster_escalation_steps_total{channel="sms",outcome="ok"} 0`,
		`muster_sends_total{outcome="sent",vendor="twilio"} 0`,
		`muster_lease_held{lease="audit-sealer"} 0`,
		"muster_deadlines_pending 3", "muster_outbox_pending 2", "muster_outbox_oldest_age_seconds 90",
		"muster_audit_unsealed_events 7", "muster_degraded 0", "muster_config_last_reload_successful 1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("first scrape lacks %q", want)
		}
	}
}

func TestRecording(t *testing.T) {
	m := New(buildinfo.Get())
	m.Step([]string{"chat", "sms"}, "ok", 120*time.Millisecond)
	m.Step(nil, "ok", -time.Second) // early is counted as 0 late
	m.Step([]string{"voice"}, "stale", time.Hour)
	m.Send("slack", "retry")
	m.SetDegraded(true)
	m.SetLease("slack-socket", true)
	m.ConfigReloaded(false, time.Now())
	out := scrape(t, m)
	for _, want := range []string{
		`muster_escalation_steps_total{channel="chat",outcome="ok"} 1`,
		`muster_escalation_steps_total{channel="sms",outcome="ok"} 1`,
		`muster_escalation_steps_total{channel="none",outcome="ok"} 1`,
		`muster_escalation_steps_total{channel="voice",outcome="stale"} 1`,
		`muster_sends_total{outcome="retry",vendor="slack"} 1`,
		"muster_degraded 1",
		`muster_lease_held{lease="slack-socket"} 1`,
		"muster_config_last_reload_successful 0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	// Only the two steps that ran are in the lateness histogram; the
	// stale one did not run.
	if !strings.Contains(out, "muster_escalation_lateness_seconds_count 2") ||
		!strings.Contains(out, `muster_escalation_lateness_seconds_bucket{le="0.005"} 1`) {
		t.Errorf("lateness histogram:\n%s", out)
	}
	var none *Metrics // metrics off: recording does nothing, never panics
	none.Step([]string{"sms"}, "ok", 0)
	none.Send("twilio", "sent")
	none.SetDegraded(true)
	none.SetLease("x", true)
	none.ConfigReloaded(true, time.Now())
	if h := none.Instrument("/x", "GET", http.NotFoundHandler()); h == nil {
		t.Error("nil metrics dropped the handler")
	}
}

// A failed Redis command counts; a missing key (redis.Nil) is an answer.
func TestRedisHookCountsFailures(t *testing.T) {
	m := New(buildinfo.Get())
	h := m.RedisHook()
	fail := h.ProcessHook(func(context.Context, redis.Cmder) error { return errors.New("dial tcp: connection refused") })
	missing := h.ProcessHook(func(context.Context, redis.Cmder) error { return redis.Nil })
	pipe := h.ProcessPipelineHook(func(context.Context, []redis.Cmder) error { return context.DeadlineExceeded })
	_ = fail(context.Background(), nil)
	_ = missing(context.Background(), nil)
	_ = pipe(context.Background(), nil)
	if out := scrape(t, m); !strings.Contains(out, "muster_redis_errors_total 2") {
		t.Errorf("want muster_redis_errors_total 2 in:\n%s", out)
	}
}

// A scrape while Redis does not answer keeps the last figures and comes
// back within its timeout.
func TestBacklogKeepsLastFiguresWhenRedisFails(t *testing.T) {
	m := New(buildinfo.Get())
	fail := false
	m.WatchBacklog(func(ctx context.Context) (BacklogFigures, error) {
		if fail {
			<-ctx.Done()
			return BacklogFigures{}, ctx.Err()
		}
		return BacklogFigures{DeadlinesPending: 42}, nil
	}, 50*time.Millisecond)
	if out := scrape(t, m); !strings.Contains(out, "muster_deadlines_pending 42") {
		t.Fatalf("first scrape:\n%s", out)
	}
	fail = true
	if out := scrape(t, m); !strings.Contains(out, "muster_deadlines_pending 42") {
		t.Errorf("scrape with Redis failing lost the last figure:\n%s", out)
	}
}
