package commands

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/muster-ops/muster/store"
)

// loneMemory remembers the lone-worker sessions last read from the
// records, so that with Redis unreachable an SMS HELP can still be told to
// be a lone worker's (degradedHelp). It is what this process last saw:
// the session of a worker who started or stopped check-ins since the last
// look (WatchLoneWorkers, or a command here) may be missing or stale.
type loneMemory struct {
	// mu guards by.
	mu sync.Mutex
	// by is each lone worker's session, by person id.
	by map[string]loneSession
}

// loneSession is what degraded mode needs of a session.
type loneSession struct {
	Task  int64
	Ref   string // L-n
	Site  string
	Until time.Time
}

// set replaces the memory with the active sessions ws.
func (m *loneMemory) set(ws []store.LoneWorker) {
	by := make(map[string]loneSession, len(ws))
	for _, w := range ws {
		by[w.Assignee] = loneSession{Task: w.Num, Ref: w.Ref, Site: w.Site, Until: w.Until}
	}
	m.mu.Lock()
	m.by = by
	m.mu.Unlock()
}

// put remembers one person's session; forget drops it.
func (m *loneMemory) put(person string, s loneSession) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.by == nil {
		m.by = map[string]loneSession{}
	}
	m.by[person] = s
}

func (m *loneMemory) forget(person string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.by, person)
}

// session is person's session as last seen, if it runs at now.
func (m *loneMemory) session(person string, now time.Time) (loneSession, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.by[person]
	if !ok || (!s.Until.IsZero() && !now.Before(s.Until)) {
		return loneSession{}, false
	}
	return s, true
}

// LoneWorkerWatch is how often WatchLoneWorkers reads the active
// lone-worker sessions.
const LoneWorkerWatch = 30 * time.Second

// WatchLoneWorkers reads the active lone-worker sessions every interval
// until ctx ends, so that this process knows the lone workers whose
// check-ins another process started when Redis becomes unreachable (an
// SMS HELP from one of them is then journalled as their call for help,
// not a roll-call answer). A read that fails keeps what was known.
func (s *Service) WatchLoneWorkers(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = LoneWorkerWatch
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if ws, err := s.st.ActiveLoneWorkers(ctx); err == nil {
			s.lone.set(ws)
		} else if ctx.Err() == nil {
			s.log.Debug("lone workers not read; keeping what was known", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
