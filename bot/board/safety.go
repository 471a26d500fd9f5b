package board

import (
	"context"
	"strings"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/store"
)

// Safety reads what the board's "People safety" section shows from the
// store: the open roll calls with their tallies, and the lone workers
// checking in with when each is next due.
type Safety struct {
	// Records is the store (*store.Store).
	Records SafetyRecords
	// Config is the configuration in force (names of people and sites).
	Config configs.Current
}

// SafetyRecords is what Safety reads of the store.
type SafetyRecords interface {
	OpenRollCalls(ctx context.Context) ([]*store.RollCall, error)
	ActiveLoneWorkers(ctx context.Context) ([]store.LoneWorker, error)
}

var (
	_ SafetyRecords = (*store.Store)(nil)
	_ SafetySource  = (*Safety)(nil)
)

// Safety reads the open roll calls and the active lone workers.
func (s *Safety) Safety(ctx context.Context) (*SafetyView, error) {
	rcs, err := s.Records.OpenRollCalls(ctx)
	if err != nil {
		return nil, err
	}
	ws, err := s.Records.ActiveLoneWorkers(ctx)
	if err != nil {
		return nil, err
	}
	cfg := s.Config.Current()
	out := &SafetyView{}
	for _, rc := range rcs {
		names := make([]string, len(rc.Sites))
		for i, st := range rc.Sites {
			names[i] = siteName(cfg, st)
		}
		out.RollCalls = append(out.RollCalls, RollCall{ID: rc.ID(), Site: strings.Join(names, ", "), Sites: rc.Sites,
			Safe: int(rc.Safe), NeedHelp: int(rc.Help), NotAnswered: int(rc.Pending()), Total: int(rc.Total),
			Drill: rc.Drill, Note: rc.Note, Since: rc.Created})
	}
	for _, w := range ws {
		name := w.Assignee
		if p, ok := cfg.Person(w.Assignee); ok {
			name = p.Name
		}
		lw := LoneWorker{ID: w.Ref, Person: name, Site: siteName(cfg, w.Site), SiteID: w.Site, NextDue: w.Due, Note: w.Note,
			Missed: w.Step > 0 || w.Status == store.TaskUnanswered}
		if lw.Missed {
			lw.NextDue = w.Last.Add(w.Every)
		}
		out.LoneWorkers = append(out.LoneWorkers, lw)
	}
	return out, nil
}
