// Package bot is muster's front door: one HTTP listener that carries the
// platform adapters' webhooks (bot/slack, bot/discord, bot/sms), health,
// readiness and metrics. The adapters only translate their platform to
// and from the commands package.
package bot

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// Pinger reports whether the records (Redis) answer.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Server is muster's one HTTP listener (server.listen): the platforms'
// webhooks, health, readiness and metrics.
type Server struct {
	mux      *http.ServeMux
	log      *zap.Logger
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	ready    Pinger
	// readyNote is added to /readyz's answer (serve --demo says state
	// lives in memory only).
	readyNote string
}

// NewServer builds the listener's routes: /healthz, /readyz and /metrics
// now; Handle adds the platform routes.
func NewServer(log *zap.Logger, ready Pinger) *Server {
	if log == nil {
		log = zap.NewNop()
	}
	s := &Server{mux: http.NewServeMux(), log: log, ready: ready, registry: prometheus.NewRegistry()}
	s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "muster_http_requests_total", Help: "HTTP requests by route and status code.",
	}, []string{"route", "code"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "muster_http_request_seconds", Help: "Time to answer an HTTP request, by route.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"route"})
	s.registry.MustRegister(s.requests, s.latency)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{Registry: s.registry}))
	return s
}

// SetReadyNote adds a line to /readyz's answer, for a caveat an operator
// must see (serve --demo). Call it before serving.
func (s *Server) SetReadyNote(note string) { s.readyNote = note }

// Registry is where adapters register their own metrics.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// Handle mounts a route ("POST /slack/commands") with metrics around it.
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, s.instrument(pattern, h))
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.ready != nil {
		if err := s.ready.Ping(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("redis unreachable\n"))
			return
		}
	}
	_, _ = w.Write([]byte("ready\n"))
	if s.readyNote != "" {
		_, _ = w.Write([]byte(s.readyNote + "\n"))
	}
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

func (s *Server) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		s.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
		s.requests.WithLabelValues(route, http.StatusText(rec.code)).Inc()
	})
}

// ServeHTTP makes the Server an http.Handler (for tests).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// ListenAndServe serves on addr until ctx is cancelled, then shuts down
// gracefully, giving in-flight requests up to 10 seconds. ready, if not
// nil, receives the bound address (useful with port 0).
func (s *Server) ListenAndServe(ctx context.Context, addr string, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
