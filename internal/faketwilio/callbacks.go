package faketwilio

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Sign computes the X-Twilio-Signature Twilio sends with a webhook: the base64 of the
// HMAC-SHA1, keyed with the auth token, of the full URL (with its query string) followed by
// every POST parameter's name and value, sorted by name. A name with several values
// contributes name+value for each value, values sorted, as Twilio's helper libraries do.
func Sign(authToken, fullURL string, params url.Values) string {
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range slices.Sorted(maps.Keys(params)) {
		for _, v := range slices.Sorted(slices.Values(params[k])) {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// ErrUnknownSID is returned for a message or call SID the fake did not create.
var ErrUnknownSID = errors.New("faketwilio: unknown sid")

// ErrNoCallback is returned when the message or call has no callback URL to send to.
var ErrNoCallback = errors.New("faketwilio: no callback url")

// send delivers one signed webhook the way Twilio does and records it. For GET the parameters
// travel in the query string and are part of the signed URL; for POST they are the form body.
func (s *Server) send(ctx context.Context, kind, method, target string, params url.Values) (Callback, error) {
	s.mu.Lock()
	client, now := s.client, s.now()
	s.seq++
	idem := fmt.Sprintf("%032x", s.seq)
	s.mu.Unlock()

	signedURL, body := target, ""
	var signedParams url.Values
	if method == http.MethodGet {
		u, err := url.Parse(target)
		if err != nil {
			return Callback{}, fmt.Errorf("faketwilio: %s url: %w", kind, err)
		}
		q := u.Query()
		for k, vs := range params {
			q[k] = append(q[k], vs...)
		}
		u.RawQuery = q.Encode()
		signedURL = u.String()
	} else {
		method, body, signedParams = http.MethodPost, params.Encode(), params
	}
	cb := Callback{
		Kind: kind, Method: method, URL: signedURL, Params: cloneValues(params),
		Signature: Sign(s.authToken, signedURL, signedParams), Sent: now,
	}

	req, err := http.NewRequestWithContext(ctx, method, signedURL, strings.NewReader(body))
	if err == nil {
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.Header.Set("X-Twilio-Signature", cb.Signature)
		req.Header.Set("User-Agent", "TwilioProxy/1.1")
		req.Header.Set("I-Twilio-Idempotency-Token", idem)
		var resp *http.Response
		resp, err = client.Do(req)
		if err == nil {
			answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
			resp.Body.Close()
			cb.Status, cb.Body = resp.StatusCode, string(answer)
		}
	}
	if err != nil {
		cb.Err = err.Error()
		err = fmt.Errorf("faketwilio: %s webhook to %s: %w", kind, target, err)
	}
	s.mu.Lock()
	s.callbacks = append(s.callbacks, cb)
	s.mu.Unlock()
	s.changes.Notify()
	return cb, err
}

// checkAnswer turns a non-2xx answer into an error.
func checkAnswer(cb Callback, err error) error {
	if err != nil {
		return err
	}
	if cb.Status < 200 || cb.Status > 299 {
		return fmt.Errorf("faketwilio: %s webhook to %s answered %d: %s", cb.Kind, cb.URL, cb.Status, cb.Body)
	}
	return nil
}

// SendStatus sends a message status callback (queued, sent, delivered, undelivered, failed,
// ...) to the StatusCallback URL the application gave when it created the message, and records
// the status on the message. errorCode is sent as ErrorCode when it is not 0 (30003 for an
// unreachable handset, say). It returns an error when the application does not answer 2xx.
func (s *Server) SendStatus(ctx context.Context, msgSID, status string, errorCode int) error {
	s.mu.Lock()
	i := slices.IndexFunc(s.messages, func(m Message) bool { return m.SID == msgSID })
	if i < 0 {
		s.mu.Unlock()
		return fmt.Errorf("%w: message %s", ErrUnknownSID, msgSID)
	}
	s.messages[i].Status, s.messages[i].ErrorCode = status, errorCode
	if s.messages[i].DateSent.IsZero() && status != "queued" && status != "accepted" && status != "sending" && status != "scheduled" {
		s.messages[i].DateSent = s.now()
	}
	m := s.messages[i]
	s.mu.Unlock()
	s.changes.Notify()
	if m.StatusCallback == "" {
		return fmt.Errorf("%w: message %s", ErrNoCallback, msgSID)
	}

	params := url.Values{
		"AccountSid":    {m.AccountSID},
		"ApiVersion":    {APIVersion},
		"MessageSid":    {m.SID},
		"MessageStatus": {status},
		"SmsSid":        {m.SID},
		"SmsStatus":     {status},
		"To":            {m.To},
	}
	if m.From != "" {
		params.Set("From", m.From)
	}
	if m.MessagingServiceSID != "" {
		params.Set("MessagingServiceSid", m.MessagingServiceSID)
	}
	if errorCode != 0 {
		params.Set("ErrorCode", strconv.Itoa(errorCode))
	}
	return checkAnswer(s.send(ctx, CallbackStatus, http.MethodPost, m.StatusCallback, params))
}

// deliverLater sends "sent" then "delivered" for a message, in the background (SetAutoDeliver).
func (s *Server) deliverLater(sid string) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for _, status := range []string{"sent", "delivered"} {
			if s.SendStatus(s.base, sid, status, 0) != nil {
				return
			}
		}
	}()
}

// SendSMS delivers an inbound SMS from the number from to the Twilio number to, posting to
// webhookURL (the application's messaging webhook) signed for that URL. It returns the
// application's answer (TwiML) and HTTP status; err reports only a failed request.
func (s *Server) SendSMS(ctx context.Context, webhookURL, from, to, body string) (respBody string, status int, err error) {
	sid := s.nextSID("SM")
	params := url.Values{
		"AccountSid":    {s.accountSID},
		"ApiVersion":    {APIVersion},
		"Body":          {body},
		"From":          {from},
		"MessageSid":    {sid},
		"NumMedia":      {"0"},
		"NumSegments":   {strconv.Itoa(segments(body))},
		"SmsMessageSid": {sid},
		"SmsSid":        {sid},
		"SmsStatus":     {"received"},
		"To":            {to},
	}
	cb, err := s.send(ctx, CallbackSMS, http.MethodPost, webhookURL, params)
	return cb.Body, cb.Status, err
}

// voiceParams are the parameters Twilio sends with every voice webhook of an outbound call.
func (s *Server) voiceParams(callSID, callStatus, from, to string) url.Values {
	return url.Values{
		"AccountSid": {s.accountSID},
		"ApiVersion": {APIVersion},
		"CallSid":    {callSID},
		"CallStatus": {callStatus},
		"Called":     {to},
		"Caller":     {from},
		"Direction":  {"outbound-api"},
		"From":       {from},
		"To":         {to},
	}
}

// SendVoiceGather posts the result of a <Gather> (the keys the callee pressed) to actionURL, the
// action of the application's <Gather>, signed for that URL. It returns the application's TwiML
// and HTTP status; err reports only a failed request.
func (s *Server) SendVoiceGather(ctx context.Context, actionURL, callSid, digits, from, to string) (respBody string, status int, err error) {
	params := s.voiceParams(callSid, "in-progress", from, to)
	params.Set("Digits", digits)
	params.Set("FinishedOnKey", "")
	cb, err := s.send(ctx, CallbackGather, http.MethodPost, actionURL, params)
	return cb.Body, cb.Status, err
}

// AnswerCall plays the callee picking up a call the application created: it requests the
// call's Url (with its Method) for TwiML, as Twilio does, and marks the call in-progress. It
// returns the application's TwiML and HTTP status; err reports an unknown call, a call created
// without Url, or a failed request.
func (s *Server) AnswerCall(ctx context.Context, callSID string) (twiml string, status int, err error) {
	c, err := s.setCallStatus(callSID, "in-progress")
	if err != nil {
		return "", 0, err
	}
	if c.URL == "" {
		return "", 0, fmt.Errorf("%w: call %s has no Url", ErrNoCallback, callSID)
	}
	cb, err := s.send(ctx, CallbackVoice, c.Method, c.URL, s.voiceParams(c.SID, "in-progress", c.From, c.To))
	return cb.Body, cb.Status, err
}

// SendCallStatus sends a call status callback (initiated, ringing, in-progress, completed,
// busy, no-answer, failed, canceled) to the call's StatusCallback, and records the status on
// the call. It returns an error when the application does not answer 2xx.
func (s *Server) SendCallStatus(ctx context.Context, callSID, status string) error {
	c, err := s.setCallStatus(callSID, status)
	if err != nil {
		return err
	}
	if c.StatusCallback == "" {
		return fmt.Errorf("%w: call %s", ErrNoCallback, callSID)
	}
	params := s.voiceParams(c.SID, status, c.From, c.To)
	params.Set("CallbackSource", "call-progress-events")
	s.mu.Lock()
	params.Set("Timestamp", twilioDate(s.now()))
	s.mu.Unlock()
	if status == "completed" {
		params.Set("CallDuration", "0")
	}
	return checkAnswer(s.send(ctx, CallbackCallStatus, c.StatusCallbackMethod, c.StatusCallback, params))
}

func (s *Server) setCallStatus(callSID, status string) (Call, error) {
	s.mu.Lock()
	i := slices.IndexFunc(s.calls, func(c Call) bool { return c.SID == callSID })
	if i < 0 {
		s.mu.Unlock()
		return Call{}, fmt.Errorf("%w: call %s", ErrUnknownSID, callSID)
	}
	s.calls[i].Status = status
	// Twilio sets start_time when it dials: a queued call, or one canceled
	// or failed before dialing, has none.
	if s.calls[i].StartTime.IsZero() && status != "queued" && status != "canceled" && status != "failed" {
		s.calls[i].StartTime = s.now()
	}
	c := s.calls[i]
	s.mu.Unlock()
	s.changes.Notify()
	return c, nil
}
