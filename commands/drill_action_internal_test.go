package commands

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/store"
)

// internalService is a Service on the example config and a test store.
func internalService(t *testing.T) *Service {
	t.Helper()
	cfg, err := configs.Example()
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)
	st := storetest.Open(t, func() time.Time { return clock })
	return New(Options{Config: cfg, Store: st})
}

// runAs parses line as Handle does and gives it to h, so a handler can be
// tested before it is wired into its command's dispatch.
func runAs(t *testing.T, s *Service, as, line string, h func(context.Context, *call, []string) Reply) Reply {
	t.Helper()
	who, err := s.Identify(PlatformConsole, as)
	if err != nil {
		t.Fatal(err)
	}
	cmd := Parse(line)
	c := &call{st: s.st, req: Request{Platform: PlatformConsole, UserID: as, Text: line}, who: who, cmd: cmd, args: cmd.Args, name: cmd.Name}
	return h(context.Background(), c, cmd.Args[1:])
}

func TestDrillActionRecordCloseList(t *testing.T) {
	s := internalService(t)
	ctx := context.Background()
	r := s.Handle(ctx, Request{Platform: PlatformConsole, UserID: "jonah", Text: "/drill start fire-evacuation @harbour"})
	if r.Error || !strings.Contains(r.Text, "D-1") {
		t.Fatalf("drill start: %s", r.Text)
	}
	action := func(_ context.Context, c *call, _ []string) Reply { return s.drillAction(ctx, c) }
	for _, tc := range []struct {
		as, line string
		isErr    bool
		want     string
	}{
		{"ben", "/drill action D-1 Brief the night shift", true, "Only a coordinator"},
		{"jonah", "/drill action D-9 Brief the night shift", true, "There is no D-9"},
		{"jonah", "/drill action D-1", true, "Say what will be improved"},
		{"jonah", "/drill action", true, "Usage: /drill action"},
		{"jonah", `/drill action D-1 Brief  the night shift on "assembly point B"`, false, `CA-1 recorded for D-1 by Jonah Reid: Brief  the night shift on "assembly point B"`},
		{"jonah", "/drill action d-1 Replace the siren at gate C", false, "CA-2 recorded"},
		{"ben", "/drill action list", false, "Open corrective actions (2):"},
		{"ben", "/drill action done 1", true, "Only a coordinator"},
		{"jonah", "/drill action done x", true, "is not a valid CA id"},
		{"jonah", "/drill action done 7", true, "There is no corrective action CA-7"},
		{"jonah", "/drill action done 1 briefed on 3 Dec", false, "CA-1 (D-1) done by Jonah Reid: Brief  the night shift on \"assembly point B\" (briefed on 3 Dec)"},
		{"jonah", "/drill action done CA-1", true, "CA-1 is already done"},
		{"ben", "/drill action list", false, "Open corrective actions (1):\nCA-2 D-1 open, due Mon 28 Dec 2026, Jonah Reid: Replace the siren at gate C"},
		{"ben", "/drill action list D-1", false, "Corrective actions of D-1 (2):"},
	} {
		r := runAs(t, s, tc.as, tc.line, action)
		if r.Error != tc.isErr || !strings.Contains(r.Text, tc.want) {
			t.Errorf("%s (as %s) = %q (error %v), want %q (error %v)", tc.line, tc.as, r.Text, r.Error, tc.want, tc.isErr)
		}
	}
	list, err := s.st.Actions(ctx, store.ActionFilter{Drill: 1})
	if err != nil || len(list) != 2 || list[0].Status != store.ActionDone || list[1].Status != store.ActionOpen {
		t.Fatalf("stored actions: %+v %v", list, err)
	}
}

func TestIncidentHoldAndRelease(t *testing.T) {
	s := internalService(t)
	ctx := context.Background()
	if r := s.Handle(ctx, Request{Platform: PlatformConsole, UserID: "amara", Text: "/incident raise injury sev2 @harbour Slipped on the quay"}); r.Error {
		t.Fatal(r.Text)
	}
	hold := func(ctx context.Context, c *call, args []string) Reply {
		return s.incidentHold(ctx, c, args, store.ActionHold)
	}
	release := func(ctx context.Context, c *call, args []string) Reply {
		return s.incidentHold(ctx, c, args, store.ActionRelease)
	}
	for _, tc := range []struct {
		as, line string
		h        func(context.Context, *call, []string) Reply
		isErr    bool
		want     string
		held     bool
	}{
		{"farid", "/incident hold INC-1", hold, true, "Only a coordinator may place a legal hold", false},
		{"jonah", "/incident hold", hold, true, "Usage: /incident hold INC-n", false},
		{"jonah", "/incident hold INC-5", hold, true, "There is no INC-5", false},
		{"jonah", "/incident release INC-1", release, true, "INC-1 is not on hold", false},
		{"jonah", "/incident hold INC-1 insurance claim", hold, false, "INC-1 is on legal hold (placed by Jonah Reid): it and its records are kept past retention until released. Reason: insurance claim", true},
		{"jonah", "/incident hold inc-1", hold, true, "INC-1 is already on hold", true},
		{"grace", "/incident release INC-1", release, true, "Only a coordinator may release", true},
		{"jonah", "/incident release INC-1", release, false, "INC-1 released from legal hold by Jonah Reid", false},
	} {
		r := runAs(t, s, tc.as, tc.line, tc.h)
		if r.Error != tc.isErr || !strings.Contains(r.Text, tc.want) {
			t.Errorf("%s (as %s) = %q (error %v), want %q", tc.line, tc.as, r.Text, r.Error, tc.want)
		}
		if inc, err := s.st.Incident(ctx, 1); err != nil || inc.Hold != tc.held {
			t.Errorf("after %s: hold = %v, want %v (%v)", tc.line, inc.Hold, tc.held, err)
		}
	}
	tl, _ := s.st.(*store.Store).IncidentTimeline(ctx, 1)
	if len(tl) != 3 || tl[1].Kind != "hold" || tl[1].Text != "insurance claim" || tl[2].Kind != "release" {
		t.Fatalf("timeline: %+v", tl)
	}
}
