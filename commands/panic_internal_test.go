package commands

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/storetest"
)

// A handler that panics (a bug) is answered with one line, and the
// service keeps answering.
func TestHandlerPanicIsAnAnswer(t *testing.T) {
	cfg, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC) }
	svc := New(Options{Config: cfg, Store: storetest.Open(t, clock), Now: clock})
	svc.cmds["boom"] = func(context.Context, *call) Reply { panic("handler bug") }

	r := svc.Handle(context.Background(), Request{Platform: PlatformConsole, UserID: "amara", Text: "/boom"})
	if !r.Error || !strings.Contains(r.Text, "internal error") || strings.Contains(r.Text, "\n") {
		t.Fatalf("panic answered with %q (error %v), want one line about an internal error", r.Text, r.Error)
	}
	r = svc.Handle(context.Background(), Request{Platform: PlatformConsole, UserID: "amara", Text: "/muster whoami"})
	if r.Error || !strings.Contains(r.Text, "Amara Okafor") {
		t.Fatalf("after a panic, whoami = %q (error %v)", r.Text, r.Error)
	}
}
