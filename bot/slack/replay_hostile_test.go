package slack

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/muster-ops/muster/store"
)

// incidents counts the incidents in e's store.
func (e *env) incidents() int {
	e.t.Helper()
	list, err := e.st.ListIncidents(e.ctx(), store.IncidentFilter{})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(list)
}

// A correctly signed request sent again inside Slack's five-minute
// window is a replay: the copy is refused with 401 and creates nothing,
// however its signature's hex is spelled, and even when the copies race.
func TestReplayedSignedRequestIsRefused(t *testing.T) {
	e := newEnv(t, nil)
	body := []byte(e.slashForm("U0FARID", "C0HARBOUR", "/incident", "raise fire sev2 @harbour smoke in the loading bay").Encode())
	ts := e.clk.Now().Unix()
	sig := Sign(testSecret, ts, body)
	if w := e.post("/slack/commands", body, ts, sig); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "INC-1 raised") {
		t.Fatalf("first copy: HTTP %d %s", w.Code, w.Body)
	}
	e.clk.Advance(4 * time.Minute) // still inside the window
	for name, s := range map[string]string{"same": sig, "upper-case hex": "v0=" + strings.ToUpper(strings.TrimPrefix(sig, "v0="))} {
		if w := e.post("/slack/commands", body, ts, s); w.Code != http.StatusUnauthorized {
			t.Errorf("replay (%s): HTTP %d %s, want 401", name, w.Code, w.Body)
		}
	}
	if n := e.incidents(); n != 1 {
		t.Fatalf("%d incidents after a replay, want 1", n)
	}

	// The same command typed again is a new request (its own trigger_id
	// and timestamp) and runs.
	again := e.slashForm("U0FARID", "C0HARBOUR", "/incident", "raise fire sev2 @harbour smoke in the loading bay")
	again.Set("trigger_id", "4.5.6")
	if w := e.post("/slack/commands", []byte(again.Encode()), 0, ""); w.Code != http.StatusOK {
		t.Fatalf("a new request: HTTP %d %s", w.Code, w.Body)
	}
	if n := e.incidents(); n != 2 {
		t.Fatalf("%d incidents, want 2", n)
	}

	// Eight copies of one fresh request at once: exactly one runs.
	race := e.slashForm("U0FARID", "C0HARBOUR", "/incident", "raise intrusion @harbour gate forced")
	raceBody := []byte(race.Encode())
	now := e.clk.Now().Unix()
	raceSig := Sign(testSecret, now, raceBody)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		codes = map[int]int{}
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(string(raceBody)))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(now, 10))
			r.Header.Set("X-Slack-Signature", raceSig)
			w := httptest.NewRecorder()
			e.mux.ServeHTTP(w, r)
			mu.Lock()
			codes[w.Code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[http.StatusOK] != 1 || codes[http.StatusUnauthorized] != 7 {
		t.Fatalf("racing copies answered %v, want one 200 and seven 401", codes)
	}
	if n := e.incidents(); n != 3 {
		t.Fatalf("%d incidents, want 3", n)
	}
}

// A replayed button click is refused before it acts.
func TestReplayedInteractionIsRefused(t *testing.T) {
	e := newEnv(t, nil)
	body := []byte("payload=%7B%22type%22%3A%22block_actions%22%7D")
	ts := e.clk.Now().Unix()
	if w := e.post("/slack/interactions", body, ts, ""); w.Code != http.StatusOK {
		t.Fatalf("first: HTTP %d", w.Code)
	}
	if w := e.post("/slack/interactions", body, ts, ""); w.Code != http.StatusUnauthorized {
		t.Fatalf("replayed click: HTTP %d, want 401", w.Code)
	}
}

// A signed request whose body is not a form is refused with 415 and runs
// nothing: Slack only ever sends forms.
func TestSignedRequestOfAnotherContentTypeIsRefused(t *testing.T) {
	e := newEnv(t, nil)
	body := []byte(e.slashForm("U0FARID", "C0HARBOUR", "/incident", "raise fire @harbour smoke").Encode())
	for _, ct := range []string{"application/json", "text/plain", "", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded; charset"} {
		ts := e.clk.Now().Unix()
		r := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(string(body)))
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		r.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
		r.Header.Set("X-Slack-Signature", Sign(testSecret, ts, body))
		w := httptest.NewRecorder()
		e.mux.ServeHTTP(w, r)
		if w.Code != http.StatusUnsupportedMediaType {
			t.Errorf("Content-Type %q: HTTP %d %s, want 415", ct, w.Code, w.Body)
		}
		e.clk.Advance(time.Second) // a new timestamp, so no copy is a replay
	}
	if n := e.incidents(); n != 0 {
		t.Fatalf("%d incidents, want 0", n)
	}
}

// failingReplays is a replay memory that is down.
type failingReplays struct{}

func (failingReplays) FirstSeen(context.Context, string, time.Duration) (bool, error) {
	return false, errors.New("redis: connection refused")
}

// When the replay memory does not answer, the request is not run
// unchecked: it is refused as busy (503, Retry-After) and changes nothing.
// (The store's own memory answers from this process's memory while Redis
// is unreachable: store/seen_test.go.)
func TestReplayMemoryDownRefusesAsBusy(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Replays = failingReplays{} })
	body := []byte(e.slashForm("U0FARID", "C0HARBOUR", "/incident", "raise fire @harbour smoke").Encode())
	w := e.post("/slack/commands", body, e.clk.Now().Unix(), "")
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "overloaded") {
		t.Fatalf("HTTP %d %q (Retry-After %q), want 503 busy", w.Code, w.Body, w.Header().Get("Retry-After"))
	}
	if n := e.incidents(); n != 0 {
		t.Fatalf("%d incidents, want 0", n)
	}
}
