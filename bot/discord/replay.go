package discord

import (
	"context"
	"net/http"
	"time"

	"github.com/bwmarrin/discordgo"
	"go.uber.org/zap"
)

// Discord signs an interaction's timestamp and body but documents no
// replay window, so anyone who saw a signed request (a logging proxy, a
// leaked trace) could send it again and run its command twice. Discord
// itself delivers each interaction once, under its own id, and its token
// (without which nobody can see muster's answer) lives 15 minutes. So the
// adapter remembers every interaction id it handled for that long, in
// Redis so every replica knows it, and refuses a second copy with 401.

// replayTTL is how long an interaction id is remembered: the life of its
// token.
const replayTTL = 15 * time.Minute

// replayCheckTimeout bounds the check: when Redis does not answer, the
// interaction goes on (fail open) and the command says what it can.
const replayCheckTimeout = time.Second

// firstSeen reports whether the interaction is new, remembering its id.
// PINGs are not remembered: answering one twice changes nothing.
func (a *Adapter) firstSeen(r *http.Request, in *discordgo.Interaction) bool {
	if in.Type == discordgo.InteractionPing {
		return true
	}
	ctx, cancel := context.WithTimeout(r.Context(), replayCheckTimeout)
	defer cancel()
	fresh, err := a.st.Client().SetNX(ctx, a.st.Key("discord", "seen", in.ID), 1, replayTTL).Result()
	if err != nil {
		a.log.Warn("discord replay check unavailable; interaction accepted", zap.Error(err))
		return true
	}
	return fresh
}
