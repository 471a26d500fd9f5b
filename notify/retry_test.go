package notify_test

import (
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/muster-ops/muster/notify"
)

// The one retry policy, whatever the vendor: rate limits, the vendor's
// own failures and requests without an answer are tried again; any other
// answer, and a send muster stopped itself, are not.
func TestFailureRetryable(t *testing.T) {
	timeout := &net.OpError{Op: "dial", Err: fmt.Errorf("i/o timeout")}
	cases := []struct {
		name string
		f    notify.Failure
		want bool
	}{
		{"429", notify.Failure{Status: 429}, true},
		{"rate-limit code", notify.Failure{Status: 400, RateLimited: true}, true},
		{"503", notify.Failure{Status: 503}, true},
		{"vendor transient code", notify.Failure{Status: 200, VendorTransient: true}, true},
		{"400 bad number", notify.Failure{Status: 400}, false},
		{"403 not in channel", notify.Failure{Status: 403}, false},
		{"no answer", notify.Failure{}.Transport(timeout), true},
		{"deadline", notify.Failure{}.Transport(fmt.Errorf("post: %w", context.DeadlineExceeded)), true},
		{"stopped by muster", notify.Failure{}.Transport(fmt.Errorf("post: %w", context.Canceled)), false},
		{"nothing known", notify.Failure{}, false},
	}
	for _, c := range cases {
		if got := c.f.Retryable(); got != c.want {
			t.Errorf("%s: %+v Retryable = %v, want %v", c.name, c.f, got, c.want)
		}
	}
}
