package faketwilio

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// Resources a Failure can be limited to.
const (
	ResourceMessages = "Messages"
	ResourceCalls    = "Calls"
)

// Failure scripts the fake to refuse requests the way Twilio does when it is overloaded or
// rejects a number. The fake consumes scripts in the order they were added: a request fails with
// the first pending script that matches it.
type Failure struct {
	Resource   string        // ResourceMessages or ResourceCalls; "" matches both
	To         string        // only requests to this number; "" matches any
	Status     int           // the HTTP status: 429, 500, 400, ... (500 when not an error status)
	Code       int           // the Twilio error code; when 0, chosen from Status (429 -> 20429, 500 -> 20500, 400 -> 21211)
	Message    string        // when "", Twilio's wording for Code
	RetryAfter time.Duration // the Retry-After header on a 429 (whole seconds, rounded up); 1s when 0
	Times      int           // how many matching requests fail; 1 when 0
}

// Fail adds a scripted failure.
func (s *Server) Fail(f Failure) {
	if f.Times <= 0 {
		f.Times = 1
	}
	if f.Status < 400 || f.Status > 599 {
		f.Status = http.StatusInternalServerError
	}
	if f.Code == 0 {
		f.Code = defaultCode(f.Status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, &f)
}

// FailNext makes the next request to the number to (any number when to is "") fail with the
// HTTP status and Twilio error code, e.g. FailNext("+15551230000", 400, 21610) for an
// unsubscribed recipient or FailNext("", 429, 20429) for a rate limit.
func (s *Server) FailNext(to string, status, code int) {
	s.Fail(Failure{To: to, Status: status, Code: code})
}

// PendingFailures returns how many scripted failures have not been used up yet.
func (s *Server) PendingFailures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, f := range s.failures {
		n += f.Times
	}
	return n
}

// takeFailure consumes one use of the first script matching a request, or returns nil.
func (s *Server) takeFailure(resource, to string) *Failure {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.failures {
		if (f.Resource != "" && f.Resource != resource) || (f.To != "" && f.To != to) {
			continue
		}
		f.Times--
		if f.Times == 0 {
			s.failures = append(s.failures[:i], s.failures[i+1:]...)
		}
		out := *f
		return &out
	}
	return nil
}

// writeFailure answers a request with a scripted failure.
func writeFailure(w http.ResponseWriter, f *Failure) {
	if f.Status == http.StatusTooManyRequests {
		after := f.RetryAfter
		if after <= 0 {
			after = time.Second
		}
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(after.Seconds()))))
	}
	writeError(w, f.Status, f.Code, f.Message)
}
