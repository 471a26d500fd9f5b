package board

import (
	"bytes"
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
)

// hub keeps the board's current snapshot, rebuilt once per change (not
// once per viewer), the fragment rendered once per scope and version, and
// the open event streams to wake.
type hub struct {
	b       *Board
	safety  SafetySource
	refresh time.Duration
	// build serializes rebuilds.
	build sync.Mutex
	// mu guards the fields that follow.
	mu    sync.Mutex
	ver   uint64
	snap  *snapshot
	at    time.Time
	cache map[string]string
	subs  map[chan struct{}]struct{}
	// dirty: something changed since snap was read, while nobody
	// watched; the next reader rebuilds it first.
	dirty bool
}

func newHub(b *Board, safety SafetySource, refresh time.Duration) *hub {
	return &hub{b: b, safety: safety, refresh: refresh, cache: map[string]string{}, subs: map[chan struct{}]struct{}{}}
}

// changeWait is how long one read of the changes stream blocks.
const changeWait = 2 * time.Second

// run rebuilds the snapshot after every change, and every refresh, while
// someone watches a board; with nobody watching it only marks the
// snapshot out of date, and the next page or stream rebuilds it. A busy
// organization's records change many times a second, and a snapshot
// reads every open incident and task: nobody should pay for boards
// nobody looks at.
func (h *hub) run(ctx context.Context) error {
	last := "$"
	var lastErr string
	for ctx.Err() == nil {
		id, refs, err := h.b.st.WaitChanges(ctx, last, changeWait)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if err.Error() != lastErr {
				h.b.log.Warn("board: cannot read changes; retrying", zap.Error(err))
				lastErr = err.Error()
			}
			t := time.NewTimer(time.Second)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			continue
		}
		lastErr = ""
		last = id
		h.mu.Lock()
		stale := time.Since(h.at) >= h.refresh
		h.mu.Unlock()
		if len(refs) > 0 || stale {
			h.mu.Lock()
			watched := len(h.subs) > 0
			if !watched {
				h.dirty = true
			}
			h.mu.Unlock()
			if !watched {
				continue
			}
			if err := h.rebuild(ctx); err != nil && ctx.Err() == nil {
				h.b.log.Warn("board: rebuild failed", zap.Error(err))
			}
		}
	}
	return nil
}

// rebuild reads a new snapshot and wakes every stream.
func (h *hub) rebuild(ctx context.Context) error {
	h.build.Lock()
	defer h.build.Unlock()
	// Cleared before the read: a change during it marks it again.
	h.mu.Lock()
	h.dirty = false
	h.mu.Unlock()
	s, err := h.b.read(ctx, h.safety)
	if err != nil {
		h.mu.Lock()
		h.dirty = true
		h.mu.Unlock()
		return err
	}
	h.mu.Lock()
	h.ver++
	h.snap = s
	h.at = time.Now()
	h.cache = map[string]string{}
	for c := range h.subs {
		select {
		case c <- struct{}{}:
		default:
		}
	}
	h.mu.Unlock()
	return nil
}

func (h *hub) subscribe() chan struct{} {
	c := make(chan struct{}, 1)
	h.mu.Lock()
	h.subs[c] = struct{}{}
	h.mu.Unlock()
	return c
}

func (h *hub) unsubscribe(c chan struct{}) {
	h.mu.Lock()
	delete(h.subs, c)
	h.mu.Unlock()
}

// fragment is v's board as HTML.
func (h *hub) fragment(ctx context.Context, v *viewer) (string, error) {
	f, _, err := h.fragmentVersion(ctx, v)
	return f, err
}

// fragmentVersion is v's board as HTML and the snapshot version it
// shows; viewers of one scope share one rendering per version.
func (h *hub) fragmentVersion(ctx context.Context, v *viewer) (string, uint64, error) {
	h.mu.Lock()
	have := h.snap != nil && !h.dirty
	h.mu.Unlock()
	if !have {
		if err := h.rebuild(ctx); err != nil {
			return "", 0, err
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	key := v.scope()
	if f, ok := h.cache[key]; ok {
		return f, h.ver, nil
	}
	var buf bytes.Buffer
	if err := fragTmpl.Execute(&buf, h.snap.view(h.b.cfg(), v)); err != nil {
		return "", 0, err
	}
	f := buf.String()
	h.cache[key] = f
	return f, h.ver, nil
}
