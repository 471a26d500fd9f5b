package discord

import (
	"context"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"
	"go.uber.org/zap"

	"github.com/muster-ops/muster/store"
)

// cardsBlock is how long one read of the change feed waits for news.
const cardsBlock = time.Second

// runCards keeps every posted card true until ctx ends: it reads the
// change feed (group CardsGroup) and edits each message of each changed
// incident or task.
func (a *Adapter) runCards(ctx context.Context) {
	var lastErr string
	for ctx.Err() == nil {
		changes, err := a.st.ReadChanges(ctx, CardsGroup, a.consumer, 50, cardsBlock)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if err.Error() != lastErr {
				a.log.Warn("change feed unreachable; retrying", zap.Error(err))
				lastErr = err.Error()
			}
			c, stop := a.clk.After(time.Second)
			select {
			case <-c:
			case <-ctx.Done():
				stop()
			}
			continue
		}
		if lastErr != "" {
			a.log.Info("change feed reachable again")
			lastErr = ""
		}
		a.applyChanges(ctx, changes)
	}
}

// SyncCards handles every change waiting in the feed now, without
// blocking, and returns how many it read. Tests use it to settle; Run
// does the same continuously.
func (a *Adapter) SyncCards(ctx context.Context) (int, error) {
	n := 0
	for {
		changes, err := a.st.ReadChanges(ctx, CardsGroup, a.consumer, 100, -1)
		if err != nil {
			return n, err
		}
		if len(changes) == 0 {
			return n, nil
		}
		n += len(changes)
		a.applyChanges(ctx, changes)
	}
}

// applyChanges refreshes each changed record once, then marks the
// changes handled. A card that cannot be edited now is logged and left:
// the next change of its record edits it again.
func (a *Adapter) applyChanges(ctx context.Context, changes []store.Change) {
	seen := map[string]bool{}
	ids := make([]string, 0, len(changes))
	for _, c := range changes {
		ids = append(ids, c.ID)
		if seen[c.Ref] || refKind(c.Ref) == "" {
			continue
		}
		seen[c.Ref] = true
		a.Refresh(ctx, c.Ref)
	}
	if err := a.st.AckChange(ctx, CardsGroup, ids...); err != nil && ctx.Err() == nil {
		a.log.Warn("change feed ack failed", zap.Error(err))
	}
}

// Refresh edits every Discord message that shows ref so it shows ref's
// current state. Failures are logged.
func (a *Adapter) Refresh(ctx context.Context, ref string) {
	if !a.bot {
		return
	}
	locs, err := a.st.Cards(ctx, Platform, ref)
	if err != nil || len(locs) == 0 {
		if err != nil {
			a.log.Warn("discord cards unreadable", zap.String("ref", ref), zap.Error(err))
		}
		return
	}
	c, err := a.render(ctx, ref)
	if err != nil {
		a.log.Warn("discord card not rendered", zap.String("ref", ref), zap.Error(err))
		return
	}
	for _, loc := range locs {
		channel, id, ok := strings.Cut(loc, "/")
		if !ok {
			continue
		}
		embeds, comps := []*discordgo.MessageEmbed{c.embed}, c.components
		edit := &discordgo.MessageEdit{ID: id, Channel: channel, Embeds: &embeds, Components: &comps, AllowedMentions: mentions()}
		err := a.retry(ctx, func() error {
			_, err := a.session.ChannelMessageEditComplex(edit, discordgo.WithContext(ctx))
			return err
		})
		switch {
		case err == nil:
			a.log.Debug("discord card edited", zap.String("ref", ref), zap.String("message", id))
		case unknownMessage(err):
			a.log.Info("discord card gone", zap.String("ref", ref), zap.String("message", id))
		case ctx.Err() == nil:
			a.log.Warn("discord card not edited", zap.String("ref", ref), zap.String("message", id), zap.Error(err))
		}
	}
}
