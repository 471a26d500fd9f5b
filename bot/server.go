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
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/muster-ops/muster/internal/buildinfo"
	"github.com/muster-ops/muster/internal/metrics"
)

// Readiness says whether this process can record: nil when a write and a
// read on the organization's own keys succeeded within a second
// (*store.Store), else why not, in one line.
type Readiness interface {
	Ready(ctx context.Context) error
}

// Server is muster's one HTTP listener (server.listen): the platforms'
// webhooks, health, readiness and metrics.
type Server struct {
	mux     *http.ServeMux
	log     *zap.Logger
	metrics *metrics.Metrics
	ready   Readiness
	// readyNote is added to /readyz's answer (serve --demo says state
	// lives in memory only).
	readyNote string
}

// NewServer builds the listener's routes: /healthz, /readyz and /metrics
// now; Handle adds the platform routes. m are the process's metrics
// (nil: a fresh set for this binary's build), served at /metrics with
// every muster series from the start.
func NewServer(log *zap.Logger, ready Readiness, m *metrics.Metrics) *Server {
	if log == nil {
		log = zap.NewNop()
	}
	if m == nil {
		m = metrics.New(buildinfo.Get())
	}
	s := &Server{mux: http.NewServeMux(), log: log, ready: ready, metrics: m}
	s.Handle("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	}))
	s.Handle("GET /readyz", http.HandlerFunc(s.readyz))
	s.mux.Handle("GET /metrics", s.metrics.Handler())
	return s
}

// SetReadyNote adds a line to /readyz's answer, for a caveat an operator
// must see (serve --demo). Call it before serving.
func (s *Server) SetReadyNote(note string) { s.readyNote = note }

// Metrics are the process's Prometheus series, for the pieces main wires
// to them (engine, outbox, leases, Redis).
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }

// Handle mounts a route ("POST /slack/commands") with promhttp's request
// counter and duration around it, labelled handler="/slack/commands",
// method="post" and the status code.
func (s *Server) Handle(pattern string, h http.Handler) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "", pattern
	}
	s.mux.Handle(pattern, s.metrics.Instrument(path, method, h))
}

// readyz answers 200 "ready" only when the readiness write and read
// succeeded; otherwise 503 with the one-line reason.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.ready != nil {
		if err := s.ready.Ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready: " + strings.Join(strings.Fields(err.Error()), " ") + "\n"))
			return
		}
	}
	_, _ = w.Write([]byte("ready\n"))
	if s.readyNote != "" {
		_, _ = w.Write([]byte(s.readyNote + "\n"))
	}
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
	if ready != nil {
		ready(ln.Addr())
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is cancelled, then shuts down as
// ListenAndServe does.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    32 << 10,
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
