package slack

import (
	"context"
	"strings"
	"time"

	"go.uber.org/zap"
)

// runCards keeps the cards true until ctx ends: it follows the store's
// change feed (group ChangeGroup) and queues a chat.update for every card
// of every changed incident or task.
func (a *Adapter) runCards(ctx context.Context) error {
	var lastErr string
	for ctx.Err() == nil {
		_, err := a.refresh(ctx, a.block)
		switch {
		case err == nil:
			if lastErr != "" {
				a.log.Info("slack card refresher: change feed reachable again")
			}
			lastErr = ""
			continue
		case ctx.Err() != nil:
			return nil
		case err.Error() != lastErr:
			a.log.Warn("slack card refresher: change feed unreachable; retrying", zap.Error(err))
		}
		lastErr = err.Error()
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	return nil
}

// RefreshCards handles every change waiting in the feed now, without
// blocking, and returns how many card edits it queued. The first call
// joins the feed (changes from before it are not seen), so a process
// calls it, or Run, before it expects edits.
func (a *Adapter) RefreshCards(ctx context.Context) (int, error) {
	return a.refresh(ctx, -1)
}

// refresh reads one batch of changes (blocking up to block; < 0 not at
// all) and queues the edits. Changes are acknowledged once their edits are
// queued: a card whose edit fails is left as it is, and logged.
func (a *Adapter) refresh(ctx context.Context, block time.Duration) (int, error) {
	changes, err := a.st.ReadChanges(ctx, ChangeGroup, a.consume, 100, block)
	if err != nil || len(changes) == 0 {
		return 0, err
	}
	queued := 0
	seen := map[string]bool{}
	ids := make([]string, 0, len(changes))
	for _, c := range changes {
		ids = append(ids, c.ID)
		if seen[c.Ref] {
			continue
		}
		seen[c.Ref] = true
		kind, _, ok := splitRef(c.Ref)
		if !ok || (kind != "INC" && kind != "T" && kind != "R") {
			continue
		}
		locs, err := a.st.Cards(ctx, Platform, c.Ref)
		if err != nil {
			a.log.Warn("slack cards of a changed record unreadable", zap.String("ref", c.Ref), zap.Error(err))
			continue
		}
		for _, loc := range locs {
			ch, ts, ok := strings.Cut(loc, "/")
			if !ok || ch == "" || ts == "" {
				continue
			}
			if !a.editPending(loc) {
				continue // the edit already queued will show this change too
			}
			if err := a.enqueue(ch, job{op: opUpdate, channel: ch, ts: ts, ref: c.Ref}); err != nil {
				a.editTaken(loc)
				a.log.Warn("slack card edit not queued", zap.String("ref", c.Ref), zap.Error(err))
				continue
			}
			queued++
		}
	}
	if err := a.st.AckChange(ctx, ChangeGroup, ids...); err != nil {
		return queued, err
	}
	return queued, nil
}

// editPending marks the card at loc as having an edit queued; false when
// it already had one.
func (a *Adapter) editPending(loc string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.edits == nil {
		a.edits = map[string]bool{}
	}
	if a.edits[loc] {
		return false
	}
	a.edits[loc] = true
	return true
}

// editTaken clears loc's mark when its queued edit starts to render (or
// was never queued): a change after this needs an edit of its own.
func (a *Adapter) editTaken(loc string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.edits, loc)
}
