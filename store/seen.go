package store

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// The replay check never fails open. Redis remembers every signed request
// muster handled (a replay guard's key, guard.go), for all replicas. This
// process also remembers the ones it handled itself, in memory, so that
// while Redis is unreachable a copy of a request is still refused: the
// guard is then settled from this memory, and what it learns while Redis
// is away is written to the journal (a SeenLog) before the command goes
// on, so a restart in the middle of the outage remembers too. When Redis
// answers again, what was learnt meanwhile is written there, for the other
// replicas.
//
// While Redis is unreachable a replica knows only its own requests: a copy
// sent to another replica then is not caught until Redis returns.

// SeenLog keeps the requests a process remembered while Redis was
// unreachable on disk (store/journal implements it).
type SeenLog interface {
	// AppendSeen records that the guard key name was handled and must be
	// refused until until; it returns once the record is durable.
	AppendSeen(name string, until time.Time) error
}

// MaxSeen bounds the requests a process remembers. Redis remembers them
// all; locally, the oldest are forgotten first while Redis answers, and
// while it does not, a request beyond the bound is refused as busy rather
// than let through unchecked.
const MaxSeen = 200_000

// ErrSeenFull: Redis is unreachable and the local replay memory is full,
// so a request cannot be checked; it is refused (busy), not let through.
var ErrSeenFull = errors.New("replay memory full while redis is unreachable")

// seenMemory is the local replay memory. It is safe for concurrent use.
type seenMemory struct {
	now func() time.Time

	// mu guards the fields that follow.
	mu    sync.Mutex
	until map[string]time.Time
	// order is the keys by insertion, for forgetting the oldest.
	order []string
	// offline are the keys learnt while Redis was unreachable, to be
	// written there when it returns.
	offline map[string]time.Time
	log     SeenLog
}

func newSeenMemory(now func() time.Time) *seenMemory {
	return &seenMemory{now: now, until: map[string]time.Time{}, offline: map[string]time.Time{}}
}

// seen reports whether name was handled and is still remembered.
func (m *seenMemory) seen(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.until[name]
	return ok && m.now().Before(u)
}

// remember notes name, which Redis found new, for ttl.
func (m *seenMemory) remember(name string, ttl time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.add(name, m.now().Add(ttl), true)
}

// add inserts under m.mu, forgetting expired keys and, when evict allows
// it, the oldest ones beyond MaxSeen. It reports false when full.
func (m *seenMemory) add(name string, until time.Time, evict bool) bool {
	if _, ok := m.until[name]; ok {
		m.until[name] = until
		return true
	}
	now := m.now()
	for len(m.order) > 0 {
		k := m.order[0]
		u, ok := m.until[k]
		live := ok && now.Before(u)
		if live && (len(m.until) < MaxSeen || !evict) {
			break
		}
		if _, unshared := m.offline[k]; live && unshared {
			break // Redis does not know it yet: never forgotten
		}
		m.order[0] = ""
		m.order = m.order[1:]
		if ok {
			delete(m.until, k)
			delete(m.offline, k)
		}
	}
	if len(m.until) >= MaxSeen {
		return false
	}
	m.until[name] = until
	m.order = append(m.order, name)
	return true
}

// firstSeenOffline is the replay check while Redis is unreachable: it
// reports whether name is new and, if so, remembers it for ttl, in memory
// and in the SeenLog, before returning.
func (m *seenMemory) firstSeenOffline(name string, ttl time.Duration) (fresh bool, err error) {
	m.mu.Lock()
	if u, ok := m.until[name]; ok && m.now().Before(u) {
		m.mu.Unlock()
		return false, nil
	}
	until := m.now().Add(ttl)
	if !m.add(name, until, false) {
		m.mu.Unlock()
		return false, ErrSeenFull
	}
	m.offline[name] = until
	log := m.log
	m.mu.Unlock()
	if log != nil {
		if err := log.AppendSeen(name, until); err != nil {
			// Remembered in memory all the same: only a restart before
			// Redis returns would forget it.
			return true, err
		}
	}
	return true, nil
}

// UseSeenLog makes the store write what it learns while Redis is
// unreachable to l, and remember loaded (a restarted process's earlier
// entries, key -> until) as learnt offline.
func (s *Store) UseSeenLog(l SeenLog, loaded map[string]time.Time) {
	m := s.seen
	m.mu.Lock()
	m.log = l
	now := m.now()
	for name, until := range loaded {
		if now.Before(until) && m.add(name, until, false) {
			m.offline[name] = until
		}
	}
	m.mu.Unlock()
	if len(loaded) > 0 {
		s.health.Poke()
	}
}

// pushSeen writes the keys learnt while Redis was unreachable to Redis,
// so every replica refuses their copies too. It runs when Redis answers
// again; what fails stays for the next time.
func (s *Store) pushSeen(ctx context.Context) {
	m := s.seen
	m.mu.Lock()
	batch := m.offline
	m.offline = map[string]time.Time{}
	m.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	now := s.now()
	_, err := s.rdb.Pipelined(s.carry(ctx), func(p redis.Pipeliner) error {
		for name, until := range batch {
			if d := until.Sub(now); d > 0 {
				p.SetArgs(ctx, s.Key(name), 1, redis.SetArgs{Mode: "NX", TTL: d})
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		m.mu.Lock()
		for name, until := range batch {
			if _, newer := m.offline[name]; !newer {
				m.offline[name] = until
			}
		}
		m.mu.Unlock()
		s.log.Warn("requests handled while redis was unreachable not yet shared with the other replicas; retrying when it answers",
			zap.Int("requests", len(batch)), zap.Error(err))
		return
	}
	s.log.Info("requests handled while redis was unreachable shared with the other replicas", zap.Int("requests", len(batch)))
}
