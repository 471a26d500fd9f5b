package fakeslack

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// rateLimit is a scripted run of 429 answers.
type rateLimit struct {
	n          int
	retryAfter time.Duration
}

// methodFailure is a scripted ok:false answer.
type methodFailure struct {
	method string // "" for any
	err    string
}

// RateLimitNext makes the next n Web API calls (after authentication) fail with HTTP 429, a
// Retry-After header of retryAfter in whole seconds (rounded up) and
// {"ok":false,"error":"ratelimited"}, as Slack rate limits. slack-go reports it as
// *slack.RateLimitedError.
func (s *Server) RateLimitNext(n int, retryAfter time.Duration) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimits = append(s.rateLimits, rateLimit{n: n, retryAfter: retryAfter})
}

// FailNext makes the next call to method ("" for any method) answer
// {"ok":false,"error":slackError} with HTTP 200, e.g. FailNext("chat.postMessage",
// "channel_not_found") or FailNext("chat.update", "message_not_found").
func (s *Server) FailNext(method, slackError string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, methodFailure{method: method, err: slackError})
}

// takeRateLimit consumes one scripted 429, reporting its Retry-After.
func (s *Server) takeRateLimit() (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.rateLimits) == 0 {
		return 0, false
	}
	rl := &s.rateLimits[0]
	after := rl.retryAfter
	if rl.n--; rl.n == 0 {
		s.rateLimits = s.rateLimits[1:]
	}
	return after, true
}

// takeFailure consumes the first scripted failure for method.
func (s *Server) takeFailure(method string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.failures {
		if f.method == "" || f.method == method {
			s.failures = append(s.failures[:i], s.failures[i+1:]...)
			return f.err, true
		}
	}
	return "", false
}

func writeRateLimited(w http.ResponseWriter, after time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(after.Seconds()))))
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"ok": false, "error": "ratelimited"})
}

// Hold makes Web API calls (after authentication) wait, unanswered and
// unrecorded, until Release: a test can then see what its caller does
// while a request is in flight. A held call whose client goes away is
// dropped, as if it never reached Slack.
func (s *Server) Hold() { s.door.Hold() }

// Release lets the held calls through and stops holding.
func (s *Server) Release() { s.door.Release() }

// Held is how many calls wait at the door now.
func (s *Server) Held() int { return s.door.Held() }

// HoldAnswers makes the fake keep its answers to chat.postMessage calls until
// ReleaseAnswers: each post is made and recorded (Posts, conversations.history) as Slack
// would, then its answer waits. A test can so stop a poster after Slack took its message but
// before it learnt so, the window in which a crash leaves the outcome unknown. A held answer
// whose client goes away leaves the post made, as on Slack.
func (s *Server) HoldAnswers() { s.answers.Hold() }

// ReleaseAnswers sends the held answers and stops holding.
func (s *Server) ReleaseAnswers() { s.answers.Release() }

// HeldAnswers is how many answers to made posts wait for ReleaseAnswers now.
func (s *Server) HeldAnswers() int { return s.answers.Held() }
