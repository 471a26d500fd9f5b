// Package metrics is muster's Prometheus instrumentation: the HTTP
// routes (through promhttp), the build, and the domain: escalation steps
// and their lateness, the outbox and sends, leases, degraded mode, Redis
// errors, configuration reloads and the audit chain's unsealed tail.
// Every series is registered, and every labelled one initialised, when
// New returns, so the first scrape of a fresh process shows them all
// (an alert on a series that does not exist yet never fires).
package metrics

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/muster-ops/muster/internal/buildinfo"
)

// Metrics holds one process's series. The zero value is not usable; nil
// is (every method of a nil *Metrics does nothing), so code that records
// need not check whether metrics are on.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	steps        *prometheus.CounterVec
	lateness     prometheus.Histogram
	sends        *prometheus.CounterVec
	degraded     prometheus.Gauge
	leaseHeld    *prometheus.GaugeVec
	redisErrors  prometheus.Counter
	reloadOK     prometheus.Gauge
	reloadTime   prometheus.Gauge
}

// Channels, step outcomes, vendors, send outcomes and leases are the
// label values initialised at start.
var (
	Channels     = []string{"chat", "sms", "voice", "none"}
	StepOutcomes = []string{"ok", "closed", "stale", "gone", "failed"}
	Vendors      = []string{"slack", "discord", "twilio", "console"}
	SendOutcomes = []string{"sent", "retry", "failed", "dropped", "refused"}
	LeaseNames   = []string{"slack-socket", "discord-gateway", "audit-sealer"}
)

// New registers every series, the Go runtime's and the process's, and
// muster_build_info for info.
func New(info buildinfo.Info) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{reg: reg}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "muster_build_info", Help: "A metric with a constant '1' value labelled by the version, revision and Go version muster was built from.",
	}, []string{"version", "revision", "goversion"})
	build.WithLabelValues(info.Version, info.Revision, info.GoVersion).Set(1)
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "muster_http_requests_total", Help: "HTTP requests answered, by route, method and status code.",
	}, []string{"handler", "method", "code"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "muster_http_request_duration_seconds", Help: "Time to answer an HTTP request, by route and method.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"handler", "method"})
	m.steps = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "muster_escalation_steps_total", Help: "Escalation steps run, by notification channel and outcome (a step on several channels counts once for each).",
	}, []string{"channel", "outcome"})
	m.lateness = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "muster_escalation_lateness_seconds", Help: "How long after its deadline an escalation step ran.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	})
	m.sends = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "muster_sends_total", Help: "Attempts to deliver an outgoing message, by vendor and outcome.",
	}, []string{"vendor", "outcome"})
	m.degraded = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "muster_degraded", Help: "1 while this process is in degraded mode (Redis unreachable), else 0.",
	})
	m.leaseHeld = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "muster_lease_held", Help: "1 while this process holds the named lease, else 0.",
	}, []string{"lease"})
	m.redisErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "muster_redis_errors_total", Help: "Redis commands and pipelines that failed (not counting a key that is simply absent).",
	})
	m.reloadOK = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "muster_config_last_reload_successful", Help: "Whether the last configuration reload attempt was successful.",
	})
	m.reloadTime = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "muster_config_last_reload_success_timestamp_seconds", Help: "Timestamp of the last successful configuration reload.",
	})
	reg.MustRegister(build, m.httpRequests, m.httpDuration, m.steps, m.lateness, m.sends, m.degraded, m.leaseHeld,
		m.redisErrors, m.reloadOK, m.reloadTime)
	for _, ch := range Channels {
		for _, o := range StepOutcomes {
			m.steps.WithLabelValues(ch, o)
		}
	}
	for _, v := range Vendors {
		for _, o := range SendOutcomes {
			m.sends.WithLabelValues(v, o)
		}
	}
	for _, l := range LeaseNames {
		m.leaseHeld.WithLabelValues(l)
	}
	// The configuration in use was loaded successfully at start.
	m.ConfigReloaded(true, time.Now())
	return m
}

// Registry is where the series live (for /metrics and tests).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Instrument wraps a route's handler with promhttp's counter and
// duration instrumentation under the handler label (the route's path,
// "/slack/commands"), and initialises its series for method and a 200, so
// a route is on the first scrape before its first request.
func (m *Metrics) Instrument(handler, method string, h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	m.httpRequests.WithLabelValues(handler, strings.ToLower(method), "200")
	m.httpDuration.WithLabelValues(handler, strings.ToLower(method))
	labels := prometheus.Labels{"handler": handler}
	return promhttp.InstrumentHandlerCounter(m.httpRequests.MustCurryWith(labels),
		promhttp.InstrumentHandlerDuration(m.httpDuration.MustCurryWith(labels), h))
}

// Step counts one escalation step on each of its channels (none when it
// notified nobody, as the step that marks a task unanswered) and, for a
// step that ran, how late it was.
func (m *Metrics) Step(channels []string, outcome string, late time.Duration) {
	if m == nil {
		return
	}
	if len(channels) == 0 {
		channels = []string{"none"}
	}
	for _, ch := range channels {
		m.steps.WithLabelValues(ch, outcome).Inc()
	}
	if outcome == "ok" {
		m.lateness.Observe(max(late, 0).Seconds())
	}
}

// Send counts one delivery attempt.
func (m *Metrics) Send(vendor, outcome string) {
	if m == nil {
		return
	}
	m.sends.WithLabelValues(vendor, outcome).Inc()
}

// SetDegraded says whether this process is in degraded mode.
func (m *Metrics) SetDegraded(on bool) {
	if m == nil {
		return
	}
	m.degraded.Set(b2f(on))
}

// SetLease says whether this process holds the named lease.
func (m *Metrics) SetLease(name string, held bool) {
	if m == nil {
		return
	}
	m.leaseHeld.WithLabelValues(name).Set(b2f(held))
}

// ConfigReloaded records a reload attempt: its success, and when the
// configuration in use was last loaded.
func (m *Metrics) ConfigReloaded(ok bool, at time.Time) {
	if m == nil {
		return
	}
	m.reloadOK.Set(b2f(ok))
	if ok {
		m.reloadTime.Set(float64(at.UnixNano()) / 1e9)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// RedisHook counts failed Redis commands and pipelines (a nil reply, a
// missing key, is an answer, not a failure) into muster_redis_errors_total.
func (m *Metrics) RedisHook() redis.Hook { return redisHook{m} }

type redisHook struct{ m *Metrics }

func (h redisHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.count(err)
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.count(err)
		return err
	}
}

func (h redisHook) count(err error) {
	if err != nil && !errors.Is(err, redis.Nil) && h.m != nil {
		h.m.redisErrors.Inc()
	}
}

// BacklogFigures are the gauges read at scrape time.
type BacklogFigures struct {
	DeadlinesPending int64
	OutboxPending    int64
	// OutboxOldestAge is how long the most overdue message has waited
	// past its send time (0 when nothing is overdue).
	OutboxOldestAge time.Duration
	AuditUnsealed   int64
	// AuditUnsealedAge is how long the oldest unsealed event has waited.
	AuditUnsealedAge time.Duration
}

// WatchBacklog adds the gauges muster_deadlines_pending,
// muster_outbox_pending, muster_outbox_oldest_age_seconds and
// muster_audit_unsealed_events, read with read at each scrape within
// timeout. When Redis does not answer the scrape keeps the last figures
// (and muster_redis_errors_total counts the failure), so a slow Redis
// never makes /metrics slow.
func (m *Metrics) WatchBacklog(read func(context.Context) (BacklogFigures, error), timeout time.Duration) {
	m.reg.MustRegister(&backlogCollector{read: read, timeout: timeout})
}

var (
	deadlinesDesc = prometheus.NewDesc("muster_deadlines_pending", "Escalation deadlines waiting in Redis.", nil, nil)
	outboxDesc    = prometheus.NewDesc("muster_outbox_pending", "Outgoing messages waiting in the outbox.", nil, nil)
	oldestDesc    = prometheus.NewDesc("muster_outbox_oldest_age_seconds", "How long the most overdue outgoing message has waited past its send time.", nil, nil)
	unsealedDesc  = prometheus.NewDesc("muster_audit_unsealed_events", "Audit events appended but not yet sealed into the signed chain.", nil, nil)
	unsealedAge   = prometheus.NewDesc("muster_audit_unsealed_oldest_age_seconds", "How long the oldest audit event not yet sealed has waited (0 when all are sealed).", nil, nil)
)

type backlogCollector struct {
	read    func(context.Context) (BacklogFigures, error)
	timeout time.Duration
	// mu guards last.
	mu   sync.Mutex
	last BacklogFigures
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{deadlinesDesc, outboxDesc, oldestDesc, unsealedDesc, unsealedAge} {
		ch <- d
	}
}

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, err := c.read(ctx); err == nil {
		c.last = f
	}
	f := c.last
	ch <- prometheus.MustNewConstMetric(deadlinesDesc, prometheus.GaugeValue, float64(f.DeadlinesPending))
	ch <- prometheus.MustNewConstMetric(outboxDesc, prometheus.GaugeValue, float64(f.OutboxPending))
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, f.OutboxOldestAge.Seconds())
	ch <- prometheus.MustNewConstMetric(unsealedDesc, prometheus.GaugeValue, float64(f.AuditUnsealed))
	ch <- prometheus.MustNewConstMetric(unsealedAge, prometheus.GaugeValue, f.AuditUnsealedAge.Seconds())
}

// Names lists every muster_* series this package defines, sorted: the
// contract the shipped alerts and dashboard rely on.
func Names() []string {
	n := []string{"muster_build_info", "muster_http_requests_total", "muster_http_request_duration_seconds",
		"muster_escalation_steps_total", "muster_escalation_lateness_seconds", "muster_deadlines_pending",
		"muster_outbox_pending", "muster_outbox_oldest_age_seconds", "muster_sends_total", "muster_degraded",
		"muster_lease_held", "muster_redis_errors_total", "muster_audit_unsealed_events", "muster_audit_unsealed_oldest_age_seconds",
		"muster_config_last_reload_successful", "muster_config_last_reload_success_timestamp_seconds"}
	sort.Strings(n)
	return n
}
