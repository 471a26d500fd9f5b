package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"go.uber.org/zap"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/store"
)

// NotOnRoster is the answer to a Slack user who is no person of the config.
const NotOnRoster = "You are not on this organization's roster, so muster cannot act for you. Ask a coordinator to add your Slack user id to the config."

// workingOnIt is the answer when a command outlives the reply budget; its
// real answer follows through response_url.
const workingOnIt = "Working on it… the answer follows in a moment."

// commandTimeout bounds one command's run, even after its answer was
// written.
const commandTimeout = 30 * time.Second

// SlashCommand is what muster needs of a slash command, whether it came
// as an HTTP form or over Socket Mode.
type SlashCommand struct {
	Command     string // "/incident"
	Text        string // "raise fire @harbour smoke"
	UserID      string
	ChannelID   string
	ResponseURL string
}

// Response is the JSON answer to a slash command (HTTP body or Socket
// Mode ack payload).
type Response struct {
	ResponseType string `json:"response_type"` // "ephemeral" or "in_channel"
	Text         string `json:"text"`
}

func ephemeral(text string) Response {
	return Response{ResponseType: slack.ResponseTypeEphemeral, Text: Escape(text)}
}

// render turns a command's reply into Slack's answer: ephemeral unless
// the reply is an announcement. The text is escaped: replies echo what a
// person typed.
func render(r commands.Reply) Response {
	t := slack.ResponseTypeEphemeral
	if r.Public && !r.Error {
		t = slack.ResponseTypeInChannel
	}
	return Response{ResponseType: t, Text: Escape(r.Text)}
}

// Line joins a slash command and its text into one command line:
// "/incident" and "raise fire @harbour smoke" give
// "/incident raise fire @harbour smoke".
func Line(command, text string) string {
	command, text = strings.TrimSpace(command), strings.TrimSpace(text)
	if text == "" {
		return command
	}
	return command + " " + text
}

// Slash runs one slash command and returns the answer to write at once.
// A command that takes longer than the reply budget is answered "working
// on it", and its real answer is posted to the command's response_url
// when it is ready. An unknown user is answered NotOnRoster and nothing
// else happens.
func (a *Adapter) Slash(sc SlashCommand) Response {
	resp, _ := a.slash(sc, nil)
	return resp
}

// slash is Slash for a request carrying the replay guard g (nil: none).
// replay is true when g found the request already handled: the command
// then changed nothing, and the caller refuses the request instead of
// answering it.
func (a *Adapter) slash(sc SlashCommand, g *store.ReplayGuard) (resp Response, replay bool) {
	if _, err := a.svc.Identify(commands.PlatformSlack, sc.UserID); err != nil {
		if dup, busy := a.replayed(a.ctx, g); dup {
			return Response{}, true
		} else if busy {
			return ephemeral(commands.Overloaded), false
		}
		a.log.Info("slack command from a user not on the roster", zap.String("user", sc.UserID), zap.String("command", sc.Command))
		return ephemeral(NotOnRoster), false
	}
	req := commands.Request{Platform: commands.PlatformSlack, UserID: sc.UserID, Text: Line(sc.Command, sc.Text), Channel: sc.ChannelID, Replay: g}
	reply, late := a.handleWithin(req, func(ctx context.Context, r commands.Reply) {
		if dup, _ := a.replayed(ctx, g); dup {
			a.log.Warn("slack late answer dropped: the request was a replay", zap.String("command", sc.Command))
			return
		}
		a.respond(ctx, sc.ResponseURL, render(r))
	})
	if late {
		// A guard still unsettled is settled by the late answer, which is
		// dropped on a replay.
		if g != nil && g.Settled() && g.Replayed() {
			return Response{}, true
		}
		a.log.Warn("slack command outlived the reply budget; answering through response_url",
			zap.String("command", sc.Command), zap.Duration("budget", a.budget))
		return ephemeral(workingOnIt), false
	}
	if reply.Busy && (g == nil || !g.Settled()) {
		// Shed before it ran: nothing to check, nothing was done, and a
		// copy sent again may run.
		return render(reply), false
	}
	if dup, busy := a.replayed(a.ctx, g); dup {
		return Response{}, true
	} else if busy && !reply.Busy {
		return ephemeral(commands.Overloaded), false
	}
	return render(reply), false
}

// handleWithin runs req and returns its reply if it is ready within the
// reply budget. Otherwise it returns late = true, and the reply goes to
// lateFn when it is ready. The command runs under the adapter's lifetime,
// not the HTTP request's, so a client that hangs up does not cut a
// transition in half. The command's store calls carry the request's
// replay guard (req.Replay, nil: none).
func (a *Adapter) handleWithin(req commands.Request, lateFn func(context.Context, commands.Reply)) (reply commands.Reply, late bool) {
	var (
		mu       sync.Mutex // guards tooLate
		tooLate  bool
		ready    = make(chan commands.Reply, 1)
		schedule = a.goBackground(func(ctx context.Context) {
			cctx, cancel := context.WithTimeout(ctx, commandTimeout)
			defer cancel()
			r := a.svc.Handle(cctx, req)
			mu.Lock()
			if !tooLate {
				ready <- r
				mu.Unlock()
				return
			}
			mu.Unlock()
			lateFn(ctx, r)
		})
	)
	if !schedule {
		return commands.Reply{Text: "muster is shutting down; try again in a minute.", Error: true}, false
	}
	t := time.NewTimer(a.budget)
	defer t.Stop()
	select {
	case r := <-ready:
		return r, false
	case <-t.C:
	}
	mu.Lock()
	defer mu.Unlock()
	select {
	case r := <-ready:
		return r, false
	default:
		tooLate = true
		return commands.Reply{}, true
	}
}

// respond posts an answer to a response_url (ephemeral unless it says
// otherwise; the original message is left in place).
func (a *Adapter) respond(ctx context.Context, responseURL string, r Response) {
	if responseURL == "" {
		a.log.Warn("no response_url to answer through; answer dropped")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := slack.PostWebhookCustomHTTPContext(ctx, responseURL, a.http, &slack.WebhookMessage{
		Text: r.Text, ResponseType: r.ResponseType,
	})
	if err != nil {
		a.log.Warn("answer through response_url failed", zap.Error(err))
	}
}

// Interaction handles one interaction payload (a button click). Its HTTP
// or Socket Mode acknowledgement must already be on its way: the work
// runs in the background and answers the clicking user, ephemerally,
// through response_url. Acknowledge and Resolve act through the same
// commands a person would type, as the clicking user.
func (a *Adapter) Interaction(cb slack.InteractionCallback) {
	if cb.Type != slack.InteractionTypeBlockActions {
		a.log.Debug("slack interaction ignored", zap.String("type", string(cb.Type)))
		return
	}
	var lines []string
	for _, act := range cb.ActionCallback.BlockActions {
		if act == nil {
			continue
		}
		if l := actionLine(act.ActionID, act.Value); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return
	}
	a.goBackground(func(ctx context.Context) {
		if _, err := a.svc.Identify(commands.PlatformSlack, cb.User.ID); err != nil {
			a.log.Info("slack button from a user not on the roster", zap.String("user", cb.User.ID))
			a.respond(ctx, cb.ResponseURL, ephemeral(NotOnRoster))
			return
		}
		for _, line := range lines {
			cctx, cancel := context.WithTimeout(ctx, commandTimeout)
			r := a.svc.Handle(cctx, commands.Request{Platform: commands.PlatformSlack, UserID: cb.User.ID, Text: line, Channel: cb.Channel.ID,
				Via: commands.ViaButton})
			cancel()
			out := render(r)
			out.ResponseType = slack.ResponseTypeEphemeral
			a.respond(ctx, cb.ResponseURL, out)
		}
	})
}

// actionLine maps a button to the command it stands for:
// Acknowledge on T-n is "/ack T-n", on INC-n "/incident ack INC-n";
// Resolve on INC-n is "/incident resolve INC-n resolved from Slack".
// Anything else (a value muster did not write) maps to nothing.
func actionLine(actionID, value string) string {
	ref := strings.ToUpper(strings.TrimSpace(value))
	kind, num, ok := splitRef(ref)
	if !ok {
		return ""
	}
	id := kind + "-" + num
	switch {
	case actionID == ActionAck && kind == "T":
		return "/ack " + id
	case actionID == ActionAck && kind == "INC":
		return "/incident ack " + id
	case actionID == ActionResolve && kind == "INC":
		return "/incident resolve " + id + " resolved from Slack"
	case actionID == ActionSafe && kind == "R":
		return "/rollcall safe " + id
	case actionID == ActionHelp && kind == "R":
		return "/rollcall help " + id
	case actionID == ActionCheckin && kind == "L":
		return "/checkin"
	}
	return ""
}

// splitRef splits "INC-4" into "INC" and "4"; ok is false unless the
// number is all digits.
func splitRef(ref string) (kind, num string, ok bool) {
	kind, num, ok = strings.Cut(ref, "-")
	if !ok || num == "" || len(num) > 18 {
		return "", "", false
	}
	for _, r := range num {
		if r < '0' || r > '9' {
			return "", "", false
		}
	}
	return kind, num, true
}

// slashCommand is what muster needs of slack-go's slash command.
func slashCommand(c slack.SlashCommand) SlashCommand {
	return SlashCommand{Command: c.Command, Text: c.Text, UserID: c.UserID, ChannelID: c.ChannelID, ResponseURL: c.ResponseURL}
}

// CommandsHandler serves POST /slack/commands: it verifies the request
// (401 and nothing else on any failure), runs the command and writes its
// answer as JSON.
func (a *Adapter) CommandsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The replay check rides on the command's first Redis round trip
		// (replay.go), unless the adapter has a replay memory of its own.
		body, ok := a.verify(w, r, a.guards == nil && a.replays != nil)
		if !ok {
			return
		}
		// verify read the body to check its signature; the form is
		// parsed from those same bytes, by slack-go.
		r.Body = io.NopCloser(bytes.NewReader(body))
		cmd, err := slack.SlashCommandParse(r)
		if err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		g := a.replayGuard(r, body)
		resp, replay := a.slash(slashCommand(cmd), g)
		if replay {
			a.refuse(w, r, ErrReplayed)
			return
		}
		writeJSON(w, resp)
	})
}

// InteractionsHandler serves POST /slack/interactions: it verifies the
// request (401 and nothing else on any failure), answers 200 at once and
// acts on the click in the background.
func (a *Adapter) InteractionsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := a.verify(w, r, true)
		if !ok {
			return
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		var cb slack.InteractionCallback
		if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
		a.Interaction(cb)
	})
}

// verify checks the signature, that the request is not a replay of one
// already handled (when replays is set; a slash command's check rides on
// its command instead), and that its body is a form; on failure it
// answers 401 (415 for another content type) and logs why.
func (a *Adapter) verify(w http.ResponseWriter, r *http.Request, replays bool) ([]byte, bool) {
	body, err := VerifyRequest(r, a.secret, a.clock.Now)
	if err == nil && replays {
		switch fresh, ferr := a.firstSeen(r, body); {
		case ferr != nil:
			busy(w)
			return nil, false
		case !fresh:
			err = ErrReplayed
		}
	}
	if err == nil {
		if !isForm(r) {
			a.log.Warn("slack request refused", zap.String("path", r.URL.Path), zap.String("reason", "content type"),
				zap.String("content_type", r.Header.Get("Content-Type")))
			http.Error(w, "want application/x-www-form-urlencoded", http.StatusUnsupportedMediaType)
			return nil, false
		}
		return body, true
	}
	a.refuse(w, r, err)
	return nil, false
}

// refuse answers a request that failed verification: 401, and a log line
// that says why.
func (a *Adapter) refuse(w http.ResponseWriter, r *http.Request, err error) {
	reason := "signature"
	switch {
	case errors.Is(err, ErrMissingHeader):
		reason = "missing header"
	case errors.Is(err, ErrStaleTimestamp), errors.Is(err, ErrBadTimestamp):
		reason = "timestamp"
	case errors.Is(err, ErrBodyTooLarge):
		reason = "body too large"
	case errors.Is(err, ErrNoSecret):
		reason = "no signing secret configured"
	case errors.Is(err, ErrReplayed):
		reason = "replay"
	}
	a.log.Warn("slack request refused", zap.String("path", r.URL.Path), zap.String("reason", reason), zap.Error(err))
	http.Error(w, "unauthorized", http.StatusUnauthorized)
}

// busy answers a request muster shed: 503 with Retry-After, nothing run.
func busy(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "2")
	http.Error(w, commands.Overloaded, http.StatusServiceUnavailable)
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(b)
}
