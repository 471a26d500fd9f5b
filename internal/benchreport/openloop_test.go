package benchreport

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	slackbot "github.com/muster-ops/muster/bot/slack"
)

// The schedule is fixed by the rate, not by the sends: d×rate calls, due
// exactly 1/rate apart, each made no earlier than it is due.
func TestOpenLoopSchedule(t *testing.T) {
	var dues []time.Time
	var early int
	n, elapsed := openLoopSchedule(context.Background(), 200, 100*time.Millisecond, func(i int, due time.Time) {
		if i != len(dues) {
			t.Fatalf("send %d called as %d", len(dues), i)
		}
		if time.Now().Before(due) {
			early++
		}
		dues = append(dues, due)
	})
	if n != 20 || len(dues) != 20 {
		t.Fatalf("%d sends (%d called), want 20: 100 ms at 200/s", n, len(dues))
	}
	for i, d := range dues {
		if got := d.Sub(dues[0]); got != time.Duration(i)*5*time.Millisecond {
			t.Errorf("send %d due %s after the first, want %s", i, got, time.Duration(i)*5*time.Millisecond)
		}
	}
	if early > 0 {
		t.Errorf("%d sends made before they were due", early)
	}
	if elapsed < 95*time.Millisecond {
		t.Errorf("the sending took %s, under the 95 ms the schedule spans", elapsed)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n, _ := openLoopSchedule(ctx, 200, time.Second, func(int, time.Time) {}); n != 0 {
		t.Errorf("%d sends after the context ended", n)
	}
}

// OpenLoop sends the signed mix on the schedule and counts what came back.
func TestOpenLoopSendsTheSignedMix(t *testing.T) {
	const secret = "load-secret"
	var bad, triggers atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := slackbot.VerifyRequest(r, secret, nil)
		if err != nil {
			bad.Add(1)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		v, _ := url.ParseQuery(string(body))
		answer := "ok"
		if v.Get("command") == "/plan" && strings.HasPrefix(v.Get("text"), "trigger") {
			triggers.Add(1)
			answer = "A-1 triggered: T-1, T-2, T-3"
		}
		fmt.Fprintf(w, `{"response_type":"ephemeral","text":%q}`, answer)
	}))
	defer srv.Close()
	res := OpenLoop(context.Background(), &SlackClient{URL: srv.URL, Secret: secret}, 100, 300*time.Millisecond)
	if bad.Load() > 0 || res.Failed > 0 || res.Dropped > 0 {
		t.Fatalf("%d unsigned, %d failed, %d dropped", bad.Load(), res.Failed, res.Dropped)
	}
	if res.Sent != 30 || res.Triggers != 1 || triggers.Load() != 1 {
		t.Errorf("sent %d, triggers %d (%d received), want 30 and the mix's one trigger", res.Sent, res.Triggers, triggers.Load())
	}
	if res.P99 <= 0 || res.P99 < res.SentP99 {
		t.Errorf("p99 %s from the schedule, %s from the send: the schedule's is the later", res.P99, res.SentP99)
	}
}
