package faketwilio

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

func createSMS(t *testing.T, srv string, to, body string) {
	t.Helper()
	form := url.Values{"To": {to}, "From": {"+15550000000"}, "Body": {body}}
	req, _ := http.NewRequest(http.MethodPost, srv+"/2010-04-01/Accounts/"+testSID+"/Messages.json", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(testSID, testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d", resp.StatusCode)
	}
}

// twilio-go reads the list as Twilio serves it: filtered by To and From,
// newest first, page by page through next_page_uri.
func TestTwilioGoListsMessages(t *testing.T) {
	fake, srv := newFake(t)
	base := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for i, to := range []string{"+15551230001", "+15551230002", "+15551230001", "+15551230001"} {
		fake.SetClock(func() time.Time { return base.Add(time.Duration(i) * time.Minute) })
		createSMS(t, srv.URL, to, "msg "+string(rune('a'+i)))
	}
	rc := twilioClient(t, srv, testSID, testToken)
	params := &openapi.ListMessageParams{}
	params.SetTo("+15551230001")
	params.SetFrom("+15550000000")
	params.SetPageSize(2)
	msgs, err := rc.Api.ListMessage(params)
	if err != nil {
		t.Fatalf("ListMessage: %v", err)
	}
	var bodies []string
	for _, m := range msgs {
		bodies = append(bodies, *m.Body)
	}
	if len(bodies) != 3 || bodies[0] != "msg d" || bodies[1] != "msg c" || bodies[2] != "msg a" {
		t.Fatalf("bodies %v, want msg d, msg c, msg a", bodies)
	}
	if *msgs[0].DateCreated != "Fri, 27 Nov 2026 10:03:00 +0000" || msgs[0].DateSent != nil || *msgs[0].Status != "queued" {
		t.Fatalf("first %+v", msgs[0])
	}
	gets := 0
	for _, r := range fake.Requests() {
		if r.Method == http.MethodGet {
			gets++
		}
	}
	if gets != 2 {
		t.Fatalf("%d GETs for 3 messages in pages of 2", gets)
	}

	// The page's own fields.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/2010-04-01/Accounts/"+testSID+"/Messages.json?To=%2B15551230001&PageSize=2", nil)
	req.SetBasicAuth(testSID, testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	if page["page"] != 0.0 || page["page_size"] != 2.0 || page["start"] != 0.0 || page["end"] != 1.0 ||
		page["previous_page_uri"] != nil || page["next_page_uri"] == nil {
		t.Fatalf("page %v", page)
	}
}

// date_sent is null until the message is sent, and the DateSent filters
// match on it, so a queued message never matches them.
func TestListFiltersByDateSent(t *testing.T) {
	fake, srv := newFake(t)
	day := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	fake.SetClock(func() time.Time { return day })
	createSMS(t, srv.URL, "+15551230001", "sent")
	createSMS(t, srv.URL, "+15551230001", "queued")
	sid := fake.Messages()[0].SID
	_ = fake.SendStatus(context.Background(), sid, "sent", 0) // no callback URL: the status still changes

	rc := twilioClient(t, srv, testSID, testToken)
	for _, tt := range []struct {
		set  func(*openapi.ListMessageParams)
		want int
	}{
		{func(p *openapi.ListMessageParams) {}, 2},
		{func(p *openapi.ListMessageParams) { p.SetDateSent(day) }, 1},
		{func(p *openapi.ListMessageParams) { p.SetDateSentAfter(day.AddDate(0, 0, 1)) }, 0},
		{func(p *openapi.ListMessageParams) { p.SetDateSentBefore(day) }, 1},
	} {
		p := &openapi.ListMessageParams{}
		tt.set(p)
		msgs, err := rc.Api.ListMessage(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != tt.want {
			t.Errorf("%+v: %d messages, want %d", p, len(msgs), tt.want)
		}
		for _, m := range msgs {
			if *m.Body == "sent" && (m.DateSent == nil || *m.DateSent != "Fri, 27 Nov 2026 10:00:00 +0000") {
				t.Errorf("date_sent %v", m.DateSent)
			}
		}
	}
	// Another account's credentials read nothing.
	other := twilioClient(t, srv, "AC00000000000000000000000000000009", testToken)
	if _, err := other.Api.ListMessage(nil); err == nil {
		t.Fatal("listed with bad credentials")
	}
}

// A held create request is accepted and recorded at once, answered only
// at Release; reads are not held.
func TestHoldAcceptsThenWaits(t *testing.T) {
	fake, srv := newFake(t)
	fake.Hold()
	done := make(chan struct{})
	go func() { defer close(done); createSMS(t, srv.URL, "+15551230001", "held") }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := fake.WaitFor(ctx, func() bool { return fake.Held() == 1 }); err != nil {
		t.Fatal(err)
	}
	if len(fake.Messages()) != 1 {
		t.Fatal("a held message is not recorded")
	}
	rc := twilioClient(t, srv, testSID, testToken)
	if msgs, err := rc.Api.ListMessage(nil); err != nil || len(msgs) != 1 {
		t.Fatalf("list while holding: %d, %v", len(msgs), err)
	}
	select {
	case <-done:
		t.Fatal("answered while held")
	default:
	}
	fake.Release()
	<-done
	if fake.Held() != 0 {
		t.Fatalf("%d still held", fake.Held())
	}
}

func createCall(t *testing.T, srv *httptest.Server, to string) string {
	t.Helper()
	form := url.Values{"To": {to}, "From": {"+15550000000"}, "Url": {"https://muster.example.com/twilio/voice"}}
	status, _, body := post(t, srv, callsPath, testSID, testToken, form)
	if status != http.StatusCreated {
		t.Fatalf("create call: %d %v", status, body)
	}
	return body["sid"].(string)
}

// twilio-go reads the calls as Twilio serves them: filtered by To, From,
// Status and start_time, newest first, page by page. start_time is null
// until the call is dialed, so a StartTime filter never matches a queued
// call.
func TestTwilioGoListsCalls(t *testing.T) {
	fake, srv := newFake(t)
	base := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	var sids []string
	for i, to := range []string{"+15551230001", "+15551230002", "+15551230001", "+15551230001"} {
		fake.SetClock(func() time.Time { return base.Add(time.Duration(i) * time.Minute) })
		sids = append(sids, createCall(t, srv, to))
	}
	// The first call is dialed; the others stay queued. There is no status
	// callback URL: the status changes all the same.
	_ = fake.SendCallStatus(context.Background(), sids[0], "ringing")

	rc := twilioClient(t, srv, testSID, testToken)
	params := &openapi.ListCallParams{}
	params.SetTo("+15551230001")
	params.SetFrom("+15550000000")
	params.SetPageSize(2)
	calls, err := rc.Api.ListCall(params)
	if err != nil {
		t.Fatalf("ListCall: %v", err)
	}
	var got []string
	for _, c := range calls {
		got = append(got, *c.Sid)
	}
	if len(got) != 3 || got[0] != sids[3] || got[1] != sids[2] || got[2] != sids[0] {
		t.Fatalf("calls %v, want %v, %v, %v", got, sids[3], sids[2], sids[0])
	}
	if *calls[0].DateCreated != "Fri, 27 Nov 2026 10:03:00 +0000" || calls[0].StartTime != nil || *calls[0].Status != "queued" ||
		*calls[0].To != "+15551230001" || *calls[0].From != "+15550000000" {
		t.Fatalf("first %+v", calls[0])
	}
	if calls[2].StartTime == nil || *calls[2].StartTime != "Fri, 27 Nov 2026 10:03:00 +0000" || *calls[2].Status != "ringing" {
		t.Fatalf("dialed call: start_time %v, status %v", calls[2].StartTime, *calls[2].Status)
	}
	gets := 0
	for _, r := range fake.Requests() {
		if r.Method == http.MethodGet && r.Path == callsPath {
			gets++
		}
	}
	if gets != 2 {
		t.Fatalf("%d GETs of Calls.json for 3 calls in pages of 2", gets)
	}

	for _, tt := range []struct {
		set  func(*openapi.ListCallParams)
		want int
	}{
		{func(p *openapi.ListCallParams) {}, 4},
		{func(p *openapi.ListCallParams) { p.SetStatus("queued") }, 3},
		{func(p *openapi.ListCallParams) { p.SetStatus("ringing") }, 1},
		{func(p *openapi.ListCallParams) { p.SetStartTime(base) }, 1},
		{func(p *openapi.ListCallParams) { p.SetStartTimeAfter(base.AddDate(0, 0, 1)) }, 0},
		{func(p *openapi.ListCallParams) { p.SetStartTimeBefore(base) }, 1},
		{func(p *openapi.ListCallParams) { p.SetTo("+15551230002") }, 1},
		{func(p *openapi.ListCallParams) { p.SetFrom("+15559999999") }, 0},
	} {
		p := &openapi.ListCallParams{}
		tt.set(p)
		calls, err := rc.Api.ListCall(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(calls) != tt.want {
			t.Errorf("%+v: %d calls, want %d", p, len(calls), tt.want)
		}
	}

	// The page's own fields, and a bad filter.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+callsPath+"?To=%2B15551230001&PageSize=2", nil)
	req.SetBasicAuth(testSID, testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	if page["page"] != 0.0 || page["page_size"] != 2.0 || page["start"] != 0.0 || page["end"] != 1.0 ||
		page["previous_page_uri"] != nil || page["next_page_uri"] == nil || len(page["calls"].([]any)) != 2 {
		t.Fatalf("page %v", page)
	}
	req, _ = http.NewRequest(http.MethodGet, srv.URL+callsPath+"?StartTime%3E=yesterday", nil)
	req.SetBasicAuth(testSID, testToken)
	bad, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	bad.Body.Close()
	if bad.StatusCode != http.StatusBadRequest {
		t.Fatalf("a bad StartTime> answered %d", bad.StatusCode)
	}
	// Another account's credentials read nothing.
	other := twilioClient(t, srv, "AC00000000000000000000000000000009", testToken)
	if _, err := other.Api.ListCall(nil); err == nil {
		t.Fatal("listed with bad credentials")
	}
}
