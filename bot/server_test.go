package bot_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/bot"
	"github.com/muster-ops/muster/internal/storetest"
)

type pingFunc func(context.Context) error

func (f pingFunc) Ready(ctx context.Context) error { return f(ctx) }

func TestHealthReadyMetrics(t *testing.T) {
	st := storetest.Open(t, nil)
	srv := bot.NewServer(nil, st, nil)
	srv.Handle("POST /echo", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	for _, tc := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/healthz", 200, "ok"},
		{"GET", "/readyz", 200, "ready"},
		{"POST", "/echo", http.StatusTeapot, ""},
		{"GET", "/metrics", 200, `muster_http_requests_total{code="418",handler="/echo",method="post"} 1`},
		{"GET", "/nope", 404, ""},
		{"POST", "/healthz", 405, ""},
	} {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.body) {
			t.Errorf("%s %s = %d %q, want %d containing %q", tc.method, tc.path, rec.Code, rec.Body.String(), tc.code, tc.body)
		}
	}
}

func TestReadyzFailsWhenRedisDoesNot(t *testing.T) {
	srv := bot.NewServer(nil, pingFunc(func(context.Context) error { return errors.New("redis unreachable: connection\nrefused") }), nil)
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Body.String() != "not ready: redis unreachable: connection refused\n" {
		t.Fatalf("readyz = %d %q, want 503 with the reason on one line", rec.Code, rec.Body)
	}
}

func TestListenAndServeShutsDownOnCancel(t *testing.T) {
	srv := bot.NewServer(nil, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe(ctx, "127.0.0.1:0", func(a net.Addr) { addrc <- a }) }()
	addr := <-addrc
	resp, err := http.Get("http://" + addr.String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok\n" {
		t.Fatalf("healthz body %q", b)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("server did not stop within 15s of cancel")
	}
}
