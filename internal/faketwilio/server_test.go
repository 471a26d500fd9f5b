package faketwilio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testSID   = "AC00000000000000000000000000000001"
	testToken = "authtoken123"
)

func newFake(t *testing.T) (*Server, *httptest.Server) {
	t.Helper()
	fake := New(testSID, testToken)
	srv := httptest.NewServer(fake)
	t.Cleanup(func() {
		srv.Close()
		fake.Close()
	})
	return fake, srv
}

// post sends a form to the fake, authenticated as user:pass when user is not empty.
func post(t *testing.T, srv *httptest.Server, path, user, pass string, form url.Values) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	return resp.StatusCode, resp.Header, body
}

var messagesPath = "/2010-04-01/Accounts/" + testSID + "/Messages.json"
var callsPath = "/2010-04-01/Accounts/" + testSID + "/Calls.json"

func sms(to, body string) url.Values {
	return url.Values{"To": {to}, "From": {"+15550000000"}, "Body": {body}}
}

func TestAuthentication(t *testing.T) {
	fake, srv := newFake(t)
	fake.AddAPIKey("SK0001", "keysecret")
	tests := []struct {
		name, path, user, pass string
		want                   int
	}{
		{"no credentials", messagesPath, "", "", 401},
		{"wrong token", messagesPath, testSID, "nope", 401},
		{"other account", "/2010-04-01/Accounts/AC99/Messages.json", testSID, testToken, 401},
		{"account sid and token", messagesPath, testSID, testToken, 201},
		{"api key", messagesPath, "SK0001", "keysecret", 201},
		{"api key, wrong secret", messagesPath, "SK0001", testToken, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := post(t, srv, tt.path, tt.user, tt.pass, sms("+15551230001", "hi"))
			if status != tt.want {
				t.Fatalf("status = %d, want %d (%v)", status, tt.want, body)
			}
			if tt.want == 401 {
				want := map[string]any{"code": 20003.0, "message": "Authenticate",
					"more_info": "https://www.twilio.com/docs/errors/20003", "status": 401.0}
				for k, v := range want {
					if body[k] != v {
						t.Errorf("%s = %v, want %v", k, body[k], v)
					}
				}
			}
		})
	}
	if got := len(fake.Messages()); got != 2 {
		t.Errorf("accepted %d messages, want 2", got)
	}
	if got := len(fake.Requests()); got != len(tests) {
		t.Errorf("recorded %d requests, want %d", got, len(tests))
	}
}

func TestCreateMessageShape(t *testing.T) {
	fake, srv := newFake(t)
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	fake.SetClock(func() time.Time { return at })
	form := sms("+15551230001", "T-17: gate 3 alarm. Reply ACK 17")
	form.Set("StatusCallback", "https://muster.example/twilio/status")
	status, _, body := post(t, srv, messagesPath, testSID, testToken, form)
	if status != http.StatusCreated {
		t.Fatalf("status = %d, want 201: %v", status, body)
	}
	sid, _ := body["sid"].(string)
	if !regexp.MustCompile(`^SM[0-9a-f]{32}$`).MatchString(sid) {
		t.Errorf("sid = %q, want SM + 32 hex digits", sid)
	}
	want := map[string]any{
		"account_sid": testSID, "to": "+15551230001", "from": "+15550000000",
		"body": "T-17: gate 3 alarm. Reply ACK 17", "status": "queued", "num_segments": "1",
		"num_media": "0", "direction": "outbound-api", "api_version": "2010-04-01",
		"date_created": "Sat, 01 Mar 2025 12:00:00 +0000", "error_code": nil, "price": nil,
		"uri": "/2010-04-01/Accounts/" + testSID + "/Messages/" + sid + ".json",
	}
	for k, v := range want {
		if got, ok := body[k]; !ok || got != v {
			t.Errorf("%s = %#v, want %#v", k, got, v)
		}
	}
	m, ok := fake.Message(sid)
	if !ok {
		t.Fatalf("message %s not recorded", sid)
	}
	if m.StatusCallback != "https://muster.example/twilio/status" || m.Body != form.Get("Body") || !m.Received.Equal(at) {
		t.Errorf("recorded %+v", m)
	}
}

func TestMessagingServiceSender(t *testing.T) {
	_, srv := newFake(t)
	form := url.Values{"To": {"+15551230001"}, "MessagingServiceSid": {"MG01"}, "Body": {"hi"}}
	status, _, body := post(t, srv, messagesPath, testSID, testToken, form)
	if status != 201 || body["from"] != nil || body["messaging_service_sid"] != "MG01" || body["status"] != "accepted" {
		t.Errorf("status %d, body %v", status, body)
	}
}

func TestSegments(t *testing.T) {
	tests := []struct {
		body string
		want int
	}{
		{"", 1}, {strings.Repeat("a", 160), 1}, {strings.Repeat("a", 161), 2}, {strings.Repeat("a", 306), 2},
		{strings.Repeat("a", 307), 3}, {strings.Repeat("é", 70), 1}, {strings.Repeat("é", 71), 2},
	}
	for _, tt := range tests {
		if got := segments(tt.body); got != tt.want {
			t.Errorf("segments(%d chars %q...) = %d, want %d", len([]rune(tt.body)), tt.body[:min(len(tt.body), 2)], got, tt.want)
		}
	}
}

func TestValidation(t *testing.T) {
	fake, srv := newFake(t)
	tests := []struct {
		name, path string
		form       url.Values
		code       float64
	}{
		{"sms without To", messagesPath, url.Values{"From": {"+15550000000"}, "Body": {"x"}}, 21604},
		{"sms without Body", messagesPath, url.Values{"To": {"+15551230001"}, "From": {"+15550000000"}}, 21602},
		{"sms without From", messagesPath, url.Values{"To": {"+15551230001"}, "Body": {"x"}}, 21603},
		{"sms to a non-number", messagesPath, sms("5551230001", "x"), 21211},
		{"sms too long", messagesPath, sms("+15551230001", strings.Repeat("x", 1601)), 21617},
		{"call without To", callsPath, url.Values{"From": {"+15550000000"}, "Url": {"https://m/v"}}, 21201},
		{"call without From", callsPath, url.Values{"To": {"+15551230001"}, "Url": {"https://m/v"}}, 21213},
		{"call without Url", callsPath, url.Values{"To": {"+15551230001"}, "From": {"+15550000000"}}, 21205},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := post(t, srv, tt.path, testSID, testToken, tt.form)
			if status != 400 || body["code"] != tt.code || body["status"] != 400.0 {
				t.Errorf("status %d, body %v; want 400 with code %v", status, body, tt.code)
			}
		})
	}
	if len(fake.Messages())+len(fake.Calls()) != 0 {
		t.Error("rejected requests were recorded as accepted")
	}
}

func TestScriptedFailures(t *testing.T) {
	const alice, bob = "+15551230001", "+15551230002"
	tests := []struct {
		name       string
		script     func(*Server)
		to         string
		wantStatus int
		wantCode   float64
		retryAfter string
	}{
		{"rate limit", func(s *Server) {
			s.Fail(Failure{Status: 429, RetryAfter: 1500 * time.Millisecond})
		}, alice, 429, 20429, "2"},
		{"server error", func(s *Server) { s.FailNext("", 500, 0) }, alice, 500, 20500, ""},
		{"invalid number", func(s *Server) { s.FailNext(alice, 400, 21211) }, alice, 400, 21211, ""},
		{"unsubscribed", func(s *Server) { s.FailNext(alice, 400, 21610) }, alice, 400, 21610, ""},
		{"script for another number", func(s *Server) { s.FailNext(bob, 400, 21610) }, alice, 201, 0, ""},
		{"script for calls only", func(s *Server) {
			s.Fail(Failure{Resource: ResourceCalls, Status: 500})
		}, alice, 201, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, srv := newFake(t)
			tt.script(fake)
			status, header, body := post(t, srv, messagesPath, testSID, testToken, sms(tt.to, "x"))
			if status != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %v", status, tt.wantStatus, body)
			}
			if tt.wantCode != 0 && body["code"] != tt.wantCode {
				t.Errorf("code = %v, want %v", body["code"], tt.wantCode)
			}
			if got := header.Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			// A script applies once; the same request then goes through (unless the script waits for another request).
			if tt.wantStatus != 201 {
				if status, _, body := post(t, srv, messagesPath, testSID, testToken, sms(tt.to, "x")); status != 201 {
					t.Errorf("retry: status %d, %v", status, body)
				}
			}
		})
	}
}

func TestFailureTimes(t *testing.T) {
	fake, srv := newFake(t)
	fake.Fail(Failure{Status: 503, Times: 2})
	var got []int
	for range 3 {
		status, _, _ := post(t, srv, messagesPath, testSID, testToken, sms("+15551230001", "x"))
		got = append(got, status)
	}
	if fmt.Sprint(got) != "[503 503 201]" {
		t.Errorf("statuses = %v, want [503 503 201]", got)
	}
	if n := fake.PendingFailures(); n != 0 {
		t.Errorf("PendingFailures = %d", n)
	}
	reqs := fake.Requests()
	if len(reqs) != 3 || reqs[0].Code != CodeServiceUnavailable || reqs[2].Code != 0 || reqs[2].Status != 201 {
		t.Errorf("requests = %+v", reqs)
	}
}

func TestLatency(t *testing.T) {
	fake, srv := newFake(t)
	fake.SetLatency(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+messagesPath, strings.NewReader(sms("+15551230001", "x").Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(testSID, testToken)
	_, err := srv.Client().Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline exceeded", err)
	}
	wait, cancelWait := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelWait()
	if err := fake.WaitFor(wait, func() bool { return len(fake.Requests()) == 1 }); err != nil {
		t.Fatal(err)
	}
	if r := fake.Requests()[0]; r.Status != 0 || len(fake.Messages()) != 0 {
		t.Errorf("abandoned request recorded as %+v with %d messages; want status 0 and no message", r, len(fake.Messages()))
	}
	fake.SetLatency(0)
	if status, _, _ := post(t, srv, messagesPath, testSID, testToken, sms("+15551230001", "x")); status != 201 {
		t.Errorf("status = %d after latency off", status)
	}
}

func TestCreateCallShape(t *testing.T) {
	fake, srv := newFake(t)
	form := url.Values{
		"To": {"+15551230001"}, "From": {"+15550000000"}, "Url": {"https://muster.example/twilio/voice?task=T-17"},
		"StatusCallback": {"https://muster.example/twilio/status"}, "StatusCallbackEvent": {"answered", "completed"},
	}
	status, _, body := post(t, srv, callsPath, testSID, testToken, form)
	if status != 201 {
		t.Fatalf("status %d: %v", status, body)
	}
	sid, _ := body["sid"].(string)
	if !regexp.MustCompile(`^CA[0-9a-f]{32}$`).MatchString(sid) || body["status"] != "queued" || body["to"] != "+15551230001" {
		t.Errorf("body = %v", body)
	}
	c, ok := fake.Call(sid)
	if !ok || c.URL != form.Get("Url") || c.Method != "POST" || len(c.StatusCallbackEvents) != 2 {
		t.Errorf("recorded %+v", c)
	}
	if m, calls := fake.CountTo("+15551230001"); m != 0 || calls != 1 {
		t.Errorf("CountTo = %d, %d", m, calls)
	}
}

func TestWaitForMessage(t *testing.T) {
	fake, srv := newFake(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 5 {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+messagesPath, strings.NewReader(sms(fmt.Sprintf("+1555123000%d", i), "x").Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(testSID, testToken)
			if resp, err := srv.Client().Do(req); err == nil {
				resp.Body.Close()
			}
		}
	}()
	m, err := fake.WaitForMessage(ctx, func(m Message) bool { return m.To == "+15551230004" })
	if err != nil {
		t.Fatal(err)
	}
	if m.To != "+15551230004" {
		t.Errorf("got %+v", m)
	}
	all, err := fake.WaitForMessages(ctx, 5)
	if err != nil || len(all) != 5 {
		t.Fatalf("WaitForMessages: %d, %v", len(all), err)
	}
	wg.Wait()

	short, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if _, err := fake.WaitForMessage(short, func(m Message) bool { return m.To == "+19999999999" }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want deadline exceeded", err)
	}
}

func TestConcurrentRequests(t *testing.T) {
	fake, srv := newFake(t)
	fake.Fail(Failure{Status: 429, Times: 10})
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, srv.URL+messagesPath, strings.NewReader(sms("+15551230001", fmt.Sprint(i)).Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(testSID, testToken)
			if resp, err := srv.Client().Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if m, _ := fake.CountTo("+15551230001"); m != 30 {
		t.Errorf("accepted %d, want 30", m)
	}
	sids := map[string]bool{}
	for _, m := range fake.Messages() {
		sids[m.SID] = true
	}
	if len(sids) != 30 {
		t.Errorf("%d distinct sids, want 30", len(sids))
	}
	if n := len(fake.Requests()); n != 40 {
		t.Errorf("recorded %d requests", n)
	}
}
