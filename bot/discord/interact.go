package discord

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"
	"go.uber.org/zap"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/store"
)

// workTimeout bounds a command's run and its deferred edit; an
// interaction token lives 15 minutes, a command should take milliseconds.
const workTimeout = 2 * time.Minute

// notOnRoster is the answer to a Discord user muster does not know.
const notOnRoster = "You are not on this organization's roster, so muster cannot act for you. Ask a coordinator to add your Discord user id (%s) to the config."

// answer is what one interaction gets: the response Discord needs within
// three seconds, and work to run once it has been delivered (the edit of
// a deferred response).
type answer struct {
	resp  *discordgo.InteractionResponse
	later func(ctx context.Context)
	// for the log line
	what     string
	deferred bool
}

// ServeHTTP is the HTTP interactions endpoint (POST /discord/interactions).
// Every request is verified first (Ed25519 over timestamp+body with the
// application's public key); a request that fails is answered 401 (413
// when too large) and nothing of it is processed, and so is a copy of an
// interaction already handled (a replay). PING is answered PONG.
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.publicKey == nil {
		a.log.Warn("discord interaction refused: no public key configured")
		http.Error(w, "interactions endpoint not configured", http.StatusUnauthorized)
		return
	}
	body, err := VerifyRequest(r, a.publicKey, MaxBodyBytes)
	if err != nil {
		status := http.StatusUnauthorized
		if errors.Is(err, ErrBodyTooLarge) {
			status = http.StatusRequestEntityTooLarge
		}
		a.log.Info("discord interaction refused", zap.Int("status", status), zap.Error(err))
		http.Error(w, http.StatusText(status), status)
		return
	}
	var in discordgo.Interaction
	if err := json.Unmarshal(body, &in); err != nil {
		a.log.Info("discord interaction unreadable", zap.Error(err))
		http.Error(w, "malformed interaction", http.StatusBadRequest)
		return
	}
	// The replay check rides on the command's first round trip
	// (replay.go); the response waits for its answer.
	g := replayGuard(&in)
	ans := a.interact(r.Context(), &in, g)
	dup, busy := a.replayed(r.Context(), g)
	if dup {
		a.log.Warn("discord interaction refused: already handled (replay)", zap.String("id", in.ID))
		http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
		return
	}
	if busy {
		ans = answer{resp: ephemeral(commands.Overloaded), what: "busy"}
	}
	out, err := json.Marshal(ans.resp)
	if err != nil {
		a.log.Error("discord response not encoded", zap.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
	a.after(r.Context(), &in, ans)
}

// onInteractionCreate is the gateway's way in: the same handler, with the
// response posted to the callback route.
func (a *Adapter) onInteractionCreate(_ *discordgo.Session, ic *discordgo.InteractionCreate) {
	a.HandleGateway(context.Background(), ic.Interaction)
}

// HandleGateway answers an interaction that arrived over the gateway:
// it runs the same handler as the HTTP endpoint and posts the response
// to the interaction's callback route.
func (a *Adapter) HandleGateway(ctx context.Context, in *discordgo.Interaction) {
	ans := a.interact(ctx, in, nil)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := a.retry(ctx, func() error {
		return a.session.InteractionRespond(in, ans.resp, discordgo.WithContext(ctx))
	})
	if err != nil {
		a.log.Warn("discord interaction response failed", zap.String("what", ans.what), zap.Error(err))
		return
	}
	a.after(ctx, in, ans)
}

// after logs the interaction and starts its deferred work.
func (a *Adapter) after(ctx context.Context, in *discordgo.Interaction, ans answer) {
	a.log.Info("discord interaction", zap.String("type", in.Type.String()), zap.String("what", ans.what),
		zap.String("user", interactionUser(in)), zap.Bool("deferred", ans.deferred))
	if ans.later == nil {
		return
	}
	a.work.Add(1)
	go func() {
		defer a.work.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), workTimeout)
		defer cancel()
		ans.later(ctx)
	}()
}

// interact is the one handler of both ways in. It returns within
// DeferAfter (on the adapter's clock) plus a little: a command still
// running by then gets a deferred response, edited when it finishes.
// g is the interaction's replay guard, handed to its command with the
// request (nil over the gateway, which no one else can send into).
func (a *Adapter) interact(ctx context.Context, in *discordgo.Interaction, g *store.ReplayGuard) answer {
	switch in.Type {
	case discordgo.InteractionPing:
		return answer{resp: &discordgo.InteractionResponse{Type: discordgo.InteractionResponsePong}, what: "ping"}
	case discordgo.InteractionApplicationCommand:
		return a.command(ctx, in, g)
	case discordgo.InteractionMessageComponent:
		return a.component(ctx, in, g)
	}
	return answer{resp: ephemeral("muster does not handle that kind of interaction."), what: in.Type.String()}
}

// command answers a slash command.
func (a *Adapter) command(ctx context.Context, in *discordgo.Interaction, g *store.ReplayGuard) answer {
	data := in.ApplicationCommandData()
	line, ok := commandLine(data, channelSite(a.cfg(), in.ChannelID))
	if !ok {
		return answer{resp: ephemeral("muster does not know /" + data.Name + ". /muster help lists its commands."), what: "/" + data.Name}
	}
	what := commandName(line)
	user := interactionUser(in)
	if _, err := a.svc.Identify(Platform, user); err != nil {
		return answer{resp: ephemeral(strings.Replace(notOnRoster, "%s", user, 1)), what: what + " (not on roster)"}
	}
	req := commands.Request{Platform: Platform, UserID: user, Text: line, Channel: in.ChannelID, Replay: g}
	wait := a.start(ctx, req)
	var r commands.Reply
	if !slow(line) {
		var done bool
		if r, done = a.within(wait); done {
			return answer{resp: replyResponse(r), what: what}
		}
	}
	flags := discordgo.MessageFlags(0)
	if !announces(line) {
		flags = flagEphemeral
	}
	return answer{
		resp: &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredChannelMessageWithSource,
			Data: &discordgo.InteractionResponseData{Flags: flags, AllowedMentions: mentions()}},
		later: func(ctx context.Context) {
			r := <-wait
			content := clip(orDone(r.Text), maxContent)
			a.webhook(ctx, "edit original", func() error {
				_, err := a.session.InteractionResponseEdit(in, &discordgo.WebhookEdit{Content: &content, AllowedMentions: mentions()}, discordgo.WithContext(ctx))
				return err
			})
		},
		what: what, deferred: true,
	}
}

// component answers a button: it runs the button's command as the
// clicking user and, when that succeeds, updates the message it was on
// (type 7) to the record's new state. A refusal is shown only to them.
func (a *Adapter) component(ctx context.Context, in *discordgo.Interaction, g *store.ReplayGuard) answer {
	data := in.MessageComponentData()
	line, ok := buttonLine(data.CustomID)
	if !ok {
		return answer{resp: ephemeral("That button is not one of muster's."), what: "button " + clip(data.CustomID, 40)}
	}
	_, ref, _ := strings.Cut(data.CustomID, ":")
	what := "button " + data.CustomID
	user := interactionUser(in)
	if _, err := a.svc.Identify(Platform, user); err != nil {
		return answer{resp: ephemeral(strings.Replace(notOnRoster, "%s", user, 1)), what: what + " (not on roster)"}
	}
	content := ""
	if in.Message != nil {
		content = in.Message.Content
	}
	wait := a.start(ctx, commands.Request{Platform: Platform, UserID: user, Text: line, Channel: in.ChannelID, Via: commands.ViaButton, Replay: g})
	if r, done := a.within(wait); done {
		if r.Error {
			return answer{resp: ephemeral(r.Text), what: what}
		}
		c, err := a.render(ctx, ref)
		if err != nil {
			a.log.Warn("discord card not rendered", zap.String("ref", ref), zap.Error(err))
			return answer{resp: ephemeral(orDone(r.Text)), what: what}
		}
		return answer{resp: &discordgo.InteractionResponse{Type: discordgo.InteractionResponseUpdateMessage,
			Data: &discordgo.InteractionResponseData{Content: content, Embeds: []*discordgo.MessageEmbed{c.embed},
				Components: c.components, AllowedMentions: mentions()}}, what: what}
	}
	return answer{
		resp: &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredMessageUpdate},
		later: func(ctx context.Context) {
			r := <-wait
			if r.Error {
				a.webhook(ctx, "followup", func() error {
					_, err := a.session.FollowupMessageCreate(in, true, &discordgo.WebhookParams{
						Content: clip(r.Text, maxContent), Flags: flagEphemeral, AllowedMentions: mentions()}, discordgo.WithContext(ctx))
					return err
				})
				return
			}
			c, err := a.render(ctx, ref)
			if err != nil {
				a.log.Warn("discord card not rendered", zap.String("ref", ref), zap.Error(err))
				return
			}
			embeds, comps := []*discordgo.MessageEmbed{c.embed}, c.components
			a.webhook(ctx, "edit message", func() error {
				_, err := a.session.InteractionResponseEdit(in, &discordgo.WebhookEdit{Content: &content, Embeds: &embeds,
					Components: &comps, AllowedMentions: mentions()}, discordgo.WithContext(ctx))
				return err
			})
		},
		what: what, deferred: true,
	}
}

// start runs a command in the background; the channel yields its reply.
// The command outlives the request that carried it.
func (a *Adapter) start(ctx context.Context, req commands.Request) <-chan commands.Reply {
	out := make(chan commands.Reply, 1)
	a.work.Add(1)
	go func() {
		defer a.work.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), workTimeout)
		defer cancel()
		out <- a.svc.Handle(ctx, req)
	}()
	return out
}

// within waits up to DeferAfter for a reply. When it comes too late the
// reply is put back for the deferred work to take.
func (a *Adapter) within(wait <-chan commands.Reply) (commands.Reply, bool) {
	timer, stop := a.clk.After(a.deferAfter)
	defer stop()
	select {
	case r := <-wait:
		return r, true
	case <-timer:
		return commands.Reply{}, false
	}
}

// webhook calls an interaction webhook route. Right after an HTTP
// response Discord may not have recorded it yet, and answers 401 or 404
// for the interaction's token; those are retried briefly.
func (a *Adapter) webhook(ctx context.Context, what string, f func() error) {
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := a.retry(ctx, f)
		if err == nil {
			return
		}
		var rest *discordgo.RESTError
		early := errors.As(err, &rest) && rest.Response != nil &&
			(rest.Response.StatusCode == http.StatusUnauthorized || rest.Response.StatusCode == http.StatusNotFound)
		if !early || attempt >= 6 {
			a.log.Warn("discord interaction "+what+" failed", zap.Error(err))
			return
		}
		// Network settling, not business time: the wall clock.
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			a.log.Warn("discord interaction "+what+" abandoned", zap.Error(ctx.Err()))
			return
		}
		backoff *= 2
	}
}

// interactionUser is the user behind an interaction: member.user in a
// guild, user in a DM.
func interactionUser(in *discordgo.Interaction) string {
	if in.Member != nil && in.Member.User != nil {
		return in.Member.User.ID
	}
	if in.User != nil {
		return in.User.ID
	}
	return ""
}

// replyResponse shows a command's reply: to the whole channel when it is
// an announcement, else to the sender only.
func replyResponse(r commands.Reply) *discordgo.InteractionResponse {
	if !r.Public {
		return ephemeral(r.Text)
	}
	return &discordgo.InteractionResponse{Type: discordgo.InteractionResponseChannelMessageWithSource,
		Data: &discordgo.InteractionResponseData{Content: clip(orDone(r.Text), maxContent), AllowedMentions: mentions()}}
}

// ephemeral is a message only the sender sees.
func ephemeral(text string) *discordgo.InteractionResponse {
	return &discordgo.InteractionResponse{Type: discordgo.InteractionResponseChannelMessageWithSource,
		Data: &discordgo.InteractionResponseData{Content: clip(orDone(text), maxContent), Flags: flagEphemeral, AllowedMentions: mentions()}}
}

func orDone(s string) string {
	if strings.TrimSpace(s) == "" {
		return "Done."
	}
	return s
}

// commandName is "/incident raise" of a line, for logs (no user text).
func commandName(line string) string {
	c := commands.Parse(line)
	if len(c.Args) > 0 && !strings.HasPrefix(c.Args[0], "@") && len(c.Args[0]) <= 12 {
		return "/" + c.Name + " " + strings.ToLower(c.Args[0])
	}
	return "/" + c.Name
}

// slowCommands resolve rosters or read whole activations before they
// answer; they are deferred at once rather than raced against the clock.
// (Fan-out never delays an answer: it goes through the outbox.)
var slowCommands = map[string]bool{
	"/plan trigger": true, "/plan dryrun": true, "/drill start": true, "/drill report": true,
}

// announcingCommands answer the whole channel (commands.Reply.Public), so
// their deferred response is public too.
var announcingCommands = map[string]bool{
	"/incident raise": true, "/incident update": true, "/incident resolve": true, "/incident ack": true,
	"/plan trigger": true, "/plan standdown": true, "/drill start": true, "/drill stop": true, "/roster cover": true,
}

func slow(line string) bool      { return slowCommands[commandName(line)] }
func announces(line string) bool { return announcingCommands[commandName(line)] }
