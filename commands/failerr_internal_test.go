package commands

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/muster-ops/muster/store"
)

// In an outage, a command whose connection could not be made changed
// nothing and says so; one whose connection broke under it (or that got
// no answer) may have been recorded, and must not say "nothing was
// changed".
func TestFailErrSaysNothingChangedOnlyWhenNothingWasSent(t *testing.T) {
	s := internalService(t)
	s.st.Health().MarkDown(errors.New("test: redis killed"))
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: &net.AddrError{Err: "connection refused"}}
	for _, tc := range []struct {
		name    string
		err     error
		nothing bool
	}{
		{"dial refused", fmt.Errorf("%w: %w", store.ErrUnavailable, refused), true},
		{"refused", fmt.Errorf("%w: %w", store.ErrUnavailable, syscall.ECONNREFUSED), true},
		{"connection broke", fmt.Errorf("%w: %w", store.ErrUnavailable, io.EOF), false},
		{"connection reset", fmt.Errorf("%w: %w", store.ErrUnavailable, syscall.ECONNRESET), false},
		{"no answer in time", fmt.Errorf("%w: %w", store.ErrUnavailable, &net.OpError{Op: "read", Net: "tcp", Err: errors.New("i/o timeout")}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.failErr(tc.err, "the incident")
			if !strings.HasPrefix(r.Text, "Records are unavailable right now") || !r.Error {
				t.Fatalf("answer %+v, want an outage refusal", r)
			}
			if got := strings.Contains(r.Text, "nothing was changed"); got != tc.nothing {
				t.Errorf("%q: says nothing was changed = %v, want %v", r.Text, got, tc.nothing)
			}
			if !tc.nothing && !strings.Contains(r.Text, "may not have been recorded") {
				t.Errorf("%q: want it to say it may not have been recorded", r.Text)
			}
		})
	}
}
