package faketwilio

import (
	"bytes"
	"context"
	"crypto/subtle"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/muster-ops/muster/internal/fakewait"
)

// APIVersion is the Twilio REST API version the fake serves and reports in its answers and callbacks.
const APIVersion = "2010-04-01"

// maxBody bounds how much of a request body the fake reads.
const maxBody = 1 << 20

// Server is a fake Twilio REST API. Create it with New; it is safe for concurrent use.
type Server struct {
	accountSID string
	authToken  string
	mux        *http.ServeMux
	changes    fakewait.Changes
	door       fakewait.Door // holds create requests (Hold)

	// base is cancelled by Close; automatic delivery callbacks run under it, counted by wg.
	base   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// mu guards the fields that follow.
	mu          sync.Mutex
	apiKeys     map[string]string // API key SID -> secret
	now         func() time.Time
	client      *http.Client
	latency     time.Duration
	autoDeliver bool
	failures    []*Failure // pending scripted failures, oldest first
	seq         uint64     // feeds SIDs
	messages    []Message
	calls       []Call
	requests    []Request
	callbacks   []Callback
}

// Message is an SMS the fake accepted through the Messages resource.
type Message struct {
	SID                 string
	AccountSID          string
	To                  string
	From                string // empty when only MessagingServiceSid was given
	MessagingServiceSID string
	Body                string
	MediaURLs           []string
	StatusCallback      string
	Status              string // "queued" ("accepted" with a messaging service), then the last status sent by SendStatus
	ErrorCode           int    // the error code of the last failed or undelivered status sent by SendStatus
	NumSegments         int
	Params              url.Values // every form field as received
	Received            time.Time
	DateSent            time.Time // when SendStatus first reported it sent (or past sending); zero before
}

// Call is a voice call the fake accepted through the Calls resource.
type Call struct {
	SID                  string
	AccountSID           string
	To                   string
	From                 string
	URL                  string // the Url parameter: where Twilio fetches TwiML when the call is answered
	Method               string // the Method parameter, POST when absent
	Twiml                string
	ApplicationSID       string
	StatusCallback       string
	StatusCallbackMethod string // POST when absent
	StatusCallbackEvents []string
	Status               string // "queued", then the last status sent by SendCallStatus or AnswerCall
	Params               url.Values
	Received             time.Time
	StartTime            time.Time // when the call was first reported dialed (see setCallStatus); zero before
}

// Request is one HTTP request the fake's API received, whatever it answered.
type Request struct {
	Method   string
	Path     string
	Username string     // the Basic auth user, "" when absent
	Form     url.Values // the form-encoded body
	Status   int        // the HTTP status the fake answered; 0 when the client gave up first (SetLatency)
	Code     int        // the Twilio error code it answered, 0 on success
	Received time.Time
}

// Callback is one webhook request the fake sent to the application.
type Callback struct {
	Kind      string // CallbackStatus, CallbackCallStatus, CallbackSMS, CallbackVoice or CallbackGather
	Method    string
	URL       string
	Params    url.Values
	Signature string // the X-Twilio-Signature header sent
	Status    int    // the HTTP status the application answered, 0 when the request failed
	Body      string // the application's answer (TwiML for SMS and voice webhooks)
	Err       string // the transport error, if any
	Sent      time.Time
}

// Kinds of Callback.
const (
	CallbackStatus     = "status"      // message status callback (SendStatus)
	CallbackCallStatus = "call-status" // call status callback (SendCallStatus)
	CallbackSMS        = "sms"         // inbound message (SendSMS)
	CallbackVoice      = "voice"       // answered call fetching TwiML (AnswerCall)
	CallbackGather     = "gather"      // <Gather> result (SendVoiceGather)
)

// New returns a fake Twilio account with the given SID and auth token. Serve it with
// httptest.NewServer and call Close when done.
func New(accountSID, authToken string) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		accountSID: accountSID,
		authToken:  authToken,
		base:       ctx,
		cancel:     cancel,
		apiKeys:    map[string]string{},
		now:        time.Now,
		client:     &http.Client{Timeout: 15 * time.Second},
	}
	s.door.Changes = &s.changes
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /2010-04-01/Accounts/{sid}/Messages.json", s.handleMessages)
	s.mux.HandleFunc("GET /2010-04-01/Accounts/{sid}/Messages.json", s.handleListMessages)
	s.mux.HandleFunc("POST /2010-04-01/Accounts/{sid}/Calls.json", s.handleCalls)
	s.mux.HandleFunc("GET /2010-04-01/Accounts/{sid}/Calls.json", s.handleListCalls)
	s.mux.HandleFunc("/", s.handleNotFound)
	return s
}

// Close releases held requests (Hold), stops automatic delivery callbacks and waits for those
// in flight. It does not close the HTTP server that serves the fake.
func (s *Server) Close() {
	s.Release()
	s.cancel()
	s.wg.Wait()
}

// AccountSID returns the account SID the fake was created with.
func (s *Server) AccountSID() string { return s.accountSID }

// AddAPIKey lets the fake accept HTTP Basic auth with an API key (SK...) and its secret, as
// Twilio does, besides the account SID and auth token.
func (s *Server) AddAPIKey(keySID, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiKeys[keySID] = secret
}

// SetClock makes the fake read the time from now (for date_created and the recorded times).
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetHTTPClient sets the client the fake uses to send webhooks to the application.
func (s *Server) SetHTTPClient(c *http.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.client = c
}

// SetLatency delays every API answer by d (0 turns it off), as a slow Twilio would. A request
// whose client gives up before the answer has no effect (it is recorded with Status 0).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetAutoDeliver makes the fake send "sent" and then "delivered" status callbacks after each
// message it accepts that carries a StatusCallback, as Twilio does for a reachable handset.
func (s *Server) SetAutoDeliver(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.autoDeliver = on
}

// ServeHTTP serves the fake Twilio REST API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	user, _, _ := r.BasicAuth()

	s.mu.Lock()
	latency, received := s.latency, s.now()
	s.mu.Unlock()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	if s.delay(r.Context(), latency) {
		s.mux.ServeHTTP(rec, r)
	} else {
		rec.status = 0 // the client gave up first: no answer, no effect
	}

	s.mu.Lock()
	s.requests = append(s.requests, Request{
		Method: r.Method, Path: r.URL.Path, Username: user, Form: form,
		Status: rec.status, Code: rec.code, Received: received,
	})
	s.mu.Unlock()
	s.changes.Notify()
}

// delay waits d, or until ctx ends; it reports whether the wait ran to its end.
func (s *Server) delay(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// authorized reports whether r carries the account's credentials or an API key's.
func (s *Server) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	if user == s.accountSID {
		return subtle.ConstantTimeCompare([]byte(pass), []byte(s.authToken)) == 1
	}
	s.mu.Lock()
	secret, known := s.apiKeys[user]
	s.mu.Unlock()
	return known && subtle.ConstantTimeCompare([]byte(pass), []byte(secret)) == 1
}

// Messages returns the messages accepted so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	for i, m := range s.messages {
		m.Params = cloneValues(m.Params)
		m.MediaURLs = slices.Clone(m.MediaURLs)
		out[i] = m
	}
	return out
}

// Message returns the accepted message with the given SID.
func (s *Server) Message(sid string) (Message, bool) {
	for _, m := range s.Messages() {
		if m.SID == sid {
			return m, true
		}
	}
	return Message{}, false
}

// Calls returns the calls accepted so far, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	for i, c := range s.calls {
		c.Params = cloneValues(c.Params)
		c.StatusCallbackEvents = slices.Clone(c.StatusCallbackEvents)
		out[i] = c
	}
	return out
}

// Call returns the accepted call with the given SID.
func (s *Server) Call(sid string) (Call, bool) {
	for _, c := range s.Calls() {
		if c.SID == sid {
			return c, true
		}
	}
	return Call{}, false
}

// CountTo returns how many messages and calls to the number to were accepted.
func (s *Server) CountTo(to string) (messages, calls int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.messages {
		if m.To == to {
			messages++
		}
	}
	for _, c := range s.calls {
		if c.To == to {
			calls++
		}
	}
	return messages, calls
}

// Requests returns every API request received so far, accepted or not, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Form = cloneValues(r.Form)
		out[i] = r
	}
	return out
}

// Callbacks returns every webhook the fake has sent to the application, oldest first.
func (s *Server) Callbacks() []Callback {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Callback, len(s.callbacks))
	for i, c := range s.callbacks {
		c.Params = cloneValues(c.Params)
		out[i] = c
	}
	return out
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// recorder remembers the status and Twilio error code of an answer.
type recorder struct {
	http.ResponseWriter
	status int
	code   int
}

// WriteHeader records status and passes it on.
func (r *recorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}
