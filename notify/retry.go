package notify

import (
	"context"
	"errors"
	"net"
	"net/http"
)

// Failure is what a vendor's error says about a failed send, in the
// terms of muster's one retry policy (Failure.Retryable). Each adapter
// (Slack, Discord, Twilio) only translates its library's errors into a
// Failure; whether to try again is decided here, for every channel and
// for the outbox, the chat queues and degraded mode alike.
type Failure struct {
	// Status is the HTTP status the vendor answered; 0 when no answer
	// came.
	Status int
	// RateLimited: a 429, or the vendor's own rate-limit code (Twilio
	// 20429, Slack "ratelimited").
	RateLimited bool
	// VendorTransient: the vendor's own code for a failure on its side
	// that passes (Twilio 20500 and 20503, Slack "internal_error").
	VendorTransient bool
	// NoAnswer: the request may or may not have arrived (a timeout, a
	// reset or refused connection, an answer that did not decode).
	NoAnswer bool
	// Stopped: muster itself cancelled the request (shutting down).
	Stopped bool
}

// Retryable is muster's one policy on trying a failed send again: rate
// limits, the vendor's own failures (5xx and its transient codes) and
// requests that got no answer may pass; any other answer (a bad number,
// a channel muster is not in, bad credentials) never will, and a send
// muster stopped itself is not retried by the one that stopped it.
func (f Failure) Retryable() bool {
	switch {
	case f.Stopped:
		return false
	case f.RateLimited, f.VendorTransient:
		return true
	case f.Status == http.StatusTooManyRequests, f.Status >= 500:
		return true
	case f.Status > 0:
		return false
	}
	return f.NoAnswer
}

// Transport fills in what err says about the connection, whatever the
// vendor: muster's own cancellation, or no answer (a net.Error, a
// deadline).
func (f Failure) Transport(err error) Failure {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		f.Stopped = true
	case errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded):
		f.NoAnswer = true
	}
	return f
}
