package faketwilio

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// rewrite sends every request to target, keeping path and query: how a client built for
// https://api.twilio.com reaches the fake.
type rewrite struct {
	target *url.URL
	next   http.RoundTripper
}

func (rt rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = rt.target.Scheme, rt.target.Host, ""
	return rt.next.RoundTrip(r)
}

func twilioClient(t *testing.T, srv *httptest.Server, user, pass string) *twilio.RestClient {
	t.Helper()
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	rc := twilio.NewRestClientWithParams(twilio.ClientParams{Username: user, Password: pass, AccountSid: testSID})
	c, ok := rc.RequestHandler.Client.(*client.Client)
	if !ok {
		t.Fatalf("twilio-go client is a %T", rc.RequestHandler.Client)
	}
	c.HTTPClient = &http.Client{Transport: rewrite{target: target, next: srv.Client().Transport}}
	return rc
}

func TestTwilioGoCreatesMessagesAndCalls(t *testing.T) {
	fake, srv := newFake(t)
	rc := twilioClient(t, srv, testSID, testToken)

	params := &openapi.CreateMessageParams{}
	params.SetTo("+15551230001")
	params.SetFrom("+15550000000")
	params.SetBody("T-17: gate 3 alarm. Reply ACK 17")
	params.SetStatusCallback("https://muster.example/twilio/status")
	msg, err := rc.Api.CreateMessage(params)
	if err != nil {
		t.Fatalf("CreateMessage: %v", err)
	}
	if msg.Sid == nil || msg.Status == nil || *msg.Status != "queued" || *msg.To != "+15551230001" || *msg.NumSegments != "1" || msg.ErrorCode != nil {
		t.Errorf("message = %+v", msg)
	}
	recorded, ok := fake.Message(*msg.Sid)
	if !ok || recorded.Body != "T-17: gate 3 alarm. Reply ACK 17" || recorded.StatusCallback != "https://muster.example/twilio/status" {
		t.Errorf("recorded %+v", recorded)
	}

	call := &openapi.CreateCallParams{}
	call.SetTo("+15551230001")
	call.SetFrom("+15550000000")
	call.SetUrl("https://muster.example/twilio/voice?task=T-17")
	call.SetStatusCallback("https://muster.example/twilio/status")
	call.SetStatusCallbackEvent([]string{"initiated", "answered", "completed"})
	created, err := rc.Api.CreateCall(call)
	if err != nil {
		t.Fatalf("CreateCall: %v", err)
	}
	if created.Sid == nil || *created.Status != "queued" || *created.From != "+15550000000" {
		t.Errorf("call = %+v", created)
	}
	c, ok := fake.Call(*created.Sid)
	if !ok || c.URL != "https://muster.example/twilio/voice?task=T-17" || len(c.StatusCallbackEvents) != 3 {
		t.Errorf("recorded %+v", c)
	}
}

func TestTwilioGoSeesTwilioErrors(t *testing.T) {
	fake, srv := newFake(t)
	rc := twilioClient(t, srv, testSID, testToken)
	params := &openapi.CreateMessageParams{}
	params.SetTo("+15551230001")
	params.SetFrom("+15550000000")
	params.SetBody("x")

	for _, tt := range []struct{ status, code int }{{400, 21610}, {429, 20429}, {500, 20500}} {
		fake.FailNext("+15551230001", tt.status, tt.code)
		_, err := rc.Api.CreateMessage(params)
		var rest *client.TwilioRestError
		if !errors.As(err, &rest) || rest.Status != tt.status || rest.Code != tt.code {
			t.Errorf("err = %v, want TwilioRestError %d/%d", err, tt.status, tt.code)
		}
	}

	bad := twilioClient(t, srv, testSID, "wrongtoken")
	_, err := bad.Api.CreateMessage(params)
	var rest *client.TwilioRestError
	if !errors.As(err, &rest) || rest.Status != 401 || rest.Code != 20003 {
		t.Errorf("wrong token: err = %v", err)
	}
}
