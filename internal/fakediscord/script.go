package fakediscord

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
	global     bool
}

// failure is a scripted error answer.
type failure struct {
	status  int
	code    int
	message string
}

// RateLimitNext makes the next n requests (bot routes after authentication, and interaction
// and webhook routes) answer 429 as Discord does: a Retry-After header (whole seconds, rounded
// up), X-RateLimit-* headers, and {"message": "You are being rate limited.", "retry_after":
// 0.5, "global": false}. discordgo waits retry_after and retries unless the session's
// ShouldRetryOnRateLimit is false, when it returns a *discordgo.RateLimitError.
func (s *Server) RateLimitNext(n int, retryAfter time.Duration, global bool) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimits = append(s.rateLimits, rateLimit{n: n, retryAfter: retryAfter, global: global})
}

// FailNext makes the next request answer status with Discord's error body, e.g.
// FailNext(404, 10003, "Unknown Channel") or FailNext(403, 50013, "Missing Permissions"). A
// status that is not an error becomes 500.
func (s *Server) FailNext(status, code int, message string) {
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, failure{status: status, code: code, message: message})
}

func (s *Server) takeRateLimit() (rateLimit, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.rateLimits) == 0 {
		return rateLimit{}, false
	}
	rl := s.rateLimits[0]
	if s.rateLimits[0].n--; s.rateLimits[0].n == 0 {
		s.rateLimits = s.rateLimits[1:]
	}
	return rl, true
}

func (s *Server) takeFailure() (failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) == 0 {
		return failure{}, false
	}
	f := s.failures[0]
	s.failures = s.failures[1:]
	return f, true
}

func writeRateLimited(w http.ResponseWriter, rl rateLimit) {
	secs := rl.retryAfter.Seconds()
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(int(math.Ceil(secs))))
	h.Set("X-RateLimit-Limit", "5")
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Reset-After", strconv.FormatFloat(secs, 'f', 3, 64))
	h.Set("X-RateLimit-Bucket", "fakediscord")
	if rl.global {
		h.Set("X-RateLimit-Global", "true")
		h.Set("X-RateLimit-Scope", "global")
	} else {
		h.Set("X-RateLimit-Scope", "user")
	}
	writeJSON(w, http.StatusTooManyRequests, map[string]any{
		"message": "You are being rate limited.", "retry_after": secs, "global": rl.global,
	})
}
