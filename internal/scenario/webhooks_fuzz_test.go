package scenario_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/muster-ops/muster/bot/sms"
	"github.com/muster-ops/muster/internal/scenario"
)

// webhookRoutes are the paths the fuzzer aims at: every webhook, the
// health routes, and paths near them.
var webhookRoutes = []string{
	"/slack/commands", "/slack/interactions", "/discord/interactions", "/twilio/sms", "/twilio/status",
	"/twilio/voice?task=T-1", "/twilio/voice/gather?task=T-3", "/healthz", "/metrics", "/slack/commands/",
	"/twilio/voice?task=T-99999999999999999999", "/twilio/voice/gather?task=%00", "/",
}

// FuzzWebhooks throws requests at muster's whole HTTP surface (one
// listener, every route, against the fakes, on one store with two
// running activations): any route, method, content type, extra header and
// body, sent unsigned, signed as the route's vendor signs, or signed and
// then changed. Whatever comes, muster never panics and never answers 5xx:
// only 2xx or 4xx.
func FuzzWebhooks(f *testing.F) {
	fr := scenario.NewFront(f, scenario.Options{})
	fr.As("jonah").MustDo("/plan trigger medical-emergency @harbour")
	fr.As("jonah").MustDo("/plan trigger medical-emergency @depot")
	fr.Settle()

	slash := fr.SlashForm("U0AMARA", "C0HARBOUR", "/incident", "raise fire @harbour smoke").Encode()
	sms := fr.InboundSMS("+447700900101", "ACK 3").Encode()
	status := url.Values{"MessageSid": {"SM123"}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}}.Encode()
	gather := url.Values{"Digits": {"1"}, "To": {"+447700900101"}, "CallSid": {"CA1"}}.Encode()
	discord := `{"id":"77","type":2,"token":"tok","channel_id":"1200000000000000001","member":{"user":{"id":"1100000000000000101"}},"data":{"name":"ack","options":[{"type":3,"name":"task","value":"T-1"}]}}`
	click := "payload=" + url.QueryEscape(`{"type":"block_actions","user":{"id":"U0AMARA"},"actions":[{"action_id":"ack","value":"T-1"}]}`)
	for _, s := range []struct {
		route       uint8
		method, ct  string
		hdr, hdrVal string
		body        string
		sign        uint8
	}{
		{0, "POST", scenario.FormType, "", "", slash, 1}, {0, "POST", scenario.FormType, "", "", slash, 0}, {0, "POST", scenario.FormType, "", "", slash, 2},
		{0, "POST", "application/json", "", "", `{"command":"/incident"}`, 1}, {1, "POST", scenario.FormType, "", "", click, 1},
		{1, "POST", scenario.FormType, "", "", "payload=%7B", 1}, {2, "POST", "application/json", "", "", discord, 1},
		{2, "POST", "application/json", "", "", `{"type":1}`, 1}, {2, "POST", "text/plain", "", "", "\x00\xff", 1},
		{3, "POST", scenario.FormType, "", "", sms, 1}, {3, "POST", "application/json", "", "", `{"Body":"ACK 3"}`, 1},
		{3, "POST", scenario.FormType, "X-Twilio-Signature", "", sms, 0}, {4, "POST", scenario.FormType, "", "", status, 1},
		{4, "POST", scenario.FormType, "", "", "CallSid=CA1&CallStatus=no-answer", 1}, {4, "POST", scenario.FormType, "", "", "", 1},
		{5, "POST", scenario.FormType, "", "", "CallSid=CA1", 1}, {6, "POST", scenario.FormType, "", "", gather, 1},
		{7, "GET", "", "", "", "", 0}, {8, "GET", "", "Accept", "application/openmetrics-text", "", 0}, {9, "POST", "", "", "", "", 0},
		{10, "POST", scenario.FormType, "", "", "", 1}, {11, "POST", scenario.FormType, "", "", gather, 1}, {12, "PUT", "", "", "", "x", 0},
		{0, "POST", scenario.FormType + "; charset=\x00", "Content-Length", "-1", slash, 1}, {3, "PATCH", scenario.FormType, "", "", sms, 1},
		{0, "POST", scenario.FormType, "X-Slack-Request-Timestamp", "99999999999999999999", slash, 1},
		{2, "POST", "application/json", "X-Signature-Ed25519", "zz", discord, 1},
		{3, "POST", "multipart/form-data; boundary=x", "", "", "--x\r\nContent-Disposition: form-data; name=\"Body\"\r\n\r\nACK 3\r\n--x--", 1},
		{0, "POST", scenario.FormType, "", "", slash + "&pad=" + strings.Repeat("x", 70<<10), 1},
	} {
		f.Add(s.route, s.method, s.ct, s.hdr, s.hdrVal, []byte(s.body), s.sign)
	}
	f.Fuzz(func(t *testing.T, route uint8, method, contentType, header, value string, body []byte, sign uint8) {
		target := webhookRoutes[int(route)%len(webhookRoutes)]
		if method == "" || strings.ContainsAny(method, " \t\r\n()<>@,;:\\\"/[]?={}") || len(method) > 16 {
			method = http.MethodPost
		}
		r := build(fr, target, body, contentType, sign%3 != 0)
		if r == nil {
			t.Skip()
		}
		r.Method = method
		if header != "" && http.CanonicalHeaderKey(header) != "Host" {
			func() {
				defer func() { _ = recover() }() // an invalid header name is the client's problem, not muster's
				r.Header.Set(header, value)
			}()
		}
		if sign%3 == 2 && len(body) > 0 { // signed, then changed in transit
			changed := append([]byte{}, body...)
			changed[len(changed)/2] ^= 0x20
			r.Body, r.ContentLength = httpBody(changed), int64(len(changed))
		}
		w := httptest.NewRecorder()
		fr.Server.ServeHTTP(w, r)
		t.Logf("%s %s (%q, signed %d): HTTP %d", method, target, contentType, sign%3, w.Code)
		if w.Code < 200 || w.Code >= 500 {
			t.Fatalf("%s %s (%q, signed %v): HTTP %d %s", method, target, contentType, sign%3, w.Code, w.Body)
		}
	})
}

// build makes a request for target, signed as its vendor signs it when
// signed is true.
func build(fr *scenario.Front, target string, body []byte, contentType string, signed bool) *http.Request {
	path, _, _ := strings.Cut(target, "?")
	switch {
	case signed && strings.HasPrefix(path, "/slack/"):
		r := fr.SlackRequest("/slack/x", body, contentType)
		return retarget(r, target)
	case signed && path == "/discord/interactions":
		r := fr.DiscordRequest(body)
		r.Header.Set("Content-Type", contentType)
		return r
	case signed && strings.HasPrefix(path, "/twilio/"):
		// Twilio signs the form's parameters, or, for another body, the
		// URL with the body's hash in it.
		form, err := url.ParseQuery(string(body))
		if err != nil || !strings.HasPrefix(contentType, scenario.FormType) {
			sum := sha256.Sum256(body)
			sep := "?"
			if strings.Contains(target, "?") {
				sep = "&"
			}
			target += sep + "bodySHA256=" + hex.EncodeToString(sum[:])
			form = nil
		}
		r := retarget(httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)), target)
		if r == nil {
			return nil
		}
		r.Header.Set("Content-Type", contentType)
		r.Header.Set("X-Twilio-Signature", sms.TwilioSignature(scenario.TwilioAuthToken, fr.App.URL+r.URL.RequestURI(), form))
		return r
	}
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return retarget(r, target)
}

// retarget points r at target (a path and query).
func retarget(r *http.Request, target string) *http.Request {
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil
	}
	r.URL = u
	r.RequestURI = target
	return r
}
