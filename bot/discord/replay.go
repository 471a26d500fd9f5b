package discord

import (
	"context"
	"time"

	"github.com/bwmarrin/discordgo"
	"go.uber.org/zap"

	"github.com/muster-ops/muster/store"
)

// Discord signs an interaction's timestamp and body but documents no
// replay window, so anyone who saw a signed request (a logging proxy, a
// leaked trace) could send it again and run its command twice. Discord
// itself delivers each interaction once, under its own id, and its token
// (without which nobody can see muster's answer) lives 15 minutes. So the
// adapter remembers every interaction id it handled for that long, in
// Redis so every replica knows it, and refuses a second copy with 401.
//
// The memory costs no round trip of its own when the command answers in
// time: the interaction's command carries a replay guard
// (store.ReplayGuard) and the store sets the id's key in the command's
// first round trip, before anything changes (store/guard.go). The
// response is written only once the guard is settled; a command that
// touched no records, or is still running when its response is due
// (deferred), has it settled by the adapter with one SET NX, and on a
// replay the command's later store calls change nothing.

// replayTTL is how long an interaction id is remembered: the life of its
// token.
const replayTTL = 15 * time.Minute

// replayCheckTimeout bounds the check. It never fails open: while Redis
// is unreachable the store answers from this process's own memory, and
// when Redis is up but does not answer in time the interaction is
// answered that muster is overloaded (its command went no further than
// the round trip that failed).
const replayCheckTimeout = time.Second

// replayGuard is the guard an interaction's command carries; nil for a
// PING (answering one twice changes nothing).
func replayGuard(in *discordgo.Interaction) *store.ReplayGuard {
	if in.Type == discordgo.InteractionPing {
		return nil
	}
	return store.NewReplayGuard("discord:seen:"+in.ID, replayTTL)
}

// replayed reports whether the interaction that carried g was handled
// before. A guard its command has not settled is settled here. busy is
// true when that could not be checked in time (Redis up, overloaded).
func (a *Adapter) replayed(ctx context.Context, g *store.ReplayGuard) (dup, busy bool) {
	if g == nil {
		return false, false
	}
	if g.Settled() {
		if err := g.Err(); err != nil {
			a.log.Warn("discord replay check not answered in time; interaction answered busy", zap.Error(err))
			return false, true
		}
		return g.Replayed(), false
	}
	ctx, cancel := context.WithTimeout(ctx, replayCheckTimeout)
	defer cancel()
	dup, err := a.st.CheckReplay(ctx, g)
	if err != nil {
		a.log.Warn("discord replay check not answered in time; interaction answered busy", zap.Error(err))
		return false, true
	}
	return dup, false
}
