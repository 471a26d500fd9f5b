package discord

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"
	"go.uber.org/zap"

	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// Retry limits for 429 answers: a wait longer than maxRateWait is not
// waited out here (the caller hears retry=true instead).
const (
	maxAttempts = 4
	maxRateWait = 30 * time.Second
)

// Notify posts a chat message: to the site's Discord channel (m.Site) or
// in a direct message to the person (m.To). An incident (Ref INC-n) or a
// task (Ref T-n) goes out as an embed with buttons, and is remembered
// (store.AddCard) so it is edited when the record changes; an incident's
// update is a reply to its card. A message with no Discord destination
// (the site has no discord channel, the person no discord id) is not
// Discord's to deliver and returns nil. A task's notice whose task was
// acknowledged (or closed) meanwhile is not posted: notify.ErrStale. Every
// post of an outbox message carries a nonce that makes Discord refuse a
// second copy (see sendOnce).
//
// retry is true when the failure may pass (a 429 longer than muster waits,
// a 5xx, a network error), false when it will not (a 4xx, no bot token).
func (a *Adapter) Notify(ctx context.Context, m notify.Message) (retry bool, err error) {
	if !a.bot {
		return false, ErrNoBot
	}
	if m.Channel != "" && m.Channel != notify.Chat {
		return false, nil
	}
	channel, ping, err := a.destination(ctx, m)
	if err != nil {
		return retryable(err), err
	}
	if channel == "" {
		a.log.Debug("no discord destination", zap.String("site", m.Site), zap.String("to", m.To), zap.String("ref", m.Ref))
		return false, nil
	}
	send := &discordgo.MessageSend{Content: clip(m.Text, maxContent), AllowedMentions: mentions()}
	// A roll call (R-n) is a card only as its tally; what else is about it
	// (a "has not answered" notice) is text.
	isCard := refKind(m.Ref) != "" && m.Kind != "update" && (refKind(m.Ref) != "R" || m.Kind == "tally")
	var task *store.Task
	if isCard && refKind(m.Ref) == "T" {
		// Acknowledged (or closed) since the outbox took the message
		// (while a 429 was waited out, say): nothing to post.
		if t, err := a.task(ctx, m.Ref); err == nil {
			if notify.Stale(m, t) {
				return false, notify.ErrStale
			}
			task = t
			if t.Kind == store.KindRollCall {
				ping = "" // a question in their DMs: it notifies without a mention
			}
		}
	}
	switch {
	case isCard:
		var (
			c    card
			rerr error
		)
		if task != nil {
			c = a.taskCard(task)
		} else {
			c, rerr = a.render(ctx, m.Ref)
		}
		if rerr != nil {
			// Post the text anyway: the message matters more than its card.
			a.log.Warn("discord card not rendered; posting text", zap.String("ref", m.Ref), zap.Error(rerr))
			isCard = false
			break
		}
		send.Embeds, send.Components = []*discordgo.MessageEmbed{c.embed}, c.components
		if ping != "" {
			send.Content = clip("<@"+ping+"> "+m.Text, maxContent)
			send.AllowedMentions = mentions(ping)
		}
	case m.Kind == "update" && refKind(m.Ref) == "INC":
		send.Reference = a.cardIn(ctx, m.Ref, channel)
	}
	var sent *discordgo.Message
	err = a.retry(ctx, func() error {
		var err error
		sent, err = a.sendOnce(ctx, channel, send, a.nonce(m))
		return err
	})
	if err != nil {
		return retryable(err), fmt.Errorf("discord: post %s to %s: %w", orDash(m.Ref), channel, err)
	}
	a.log.Debug("discord posted", zap.String("ref", m.Ref), zap.String("kind", m.Kind), zap.String("channel", channel), zap.String("message", sent.ID))
	if isCard {
		if err := a.st.AddCard(ctx, Platform, m.Ref, channel+"/"+sent.ID); err != nil {
			// Posted, but it will not be kept current: worth a line, not a retry.
			a.log.Warn("discord card not remembered", zap.String("ref", m.Ref), zap.String("message", sent.ID), zap.Error(err))
		}
	}
	return false, nil
}

// task reads the task ref (T-n).
func (a *Adapter) task(ctx context.Context, ref string) (*store.Task, error) {
	n, err := store.ParseID("T", ref)
	if err != nil {
		return nil, err
	}
	return a.st.Task(ctx, n)
}

// Posting once
//
// Discord's message create takes a nonce and, with enforce_nonce, returns
// the message an author already created with that nonce in the past few
// minutes instead of creating another. Every post of an outbox message
// carries a nonce derived from the organization's namespace and the
// outbox message id, the same on every attempt of every process, so a
// post whose answer was lost (its process died, its request timed out)
// is not posted twice when the message is sent again within those
// minutes. A message sent again later than that (after a long Redis
// outage) may be posted twice.

// nonceLen is the longest nonce Discord takes.
const nonceLen = 25

// nonce is the nonce of m's post; "" for a message not from the outbox.
func (a *Adapter) nonce(m notify.Message) string {
	if m.ID == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(a.cfg().Namespace + "\x00" + m.ID))
	return hex.EncodeToString(sum[:])[:nonceLen-1]
}

// sendOnce creates a message in channel: ChannelMessageSendComplex's
// request with nonce and enforce_nonce added (discordgo v0.29's
// MessageSend has neither).
func (a *Adapter) sendOnce(ctx context.Context, channel string, send *discordgo.MessageSend, nonce string) (*discordgo.Message, error) {
	if nonce == "" {
		return a.session.ChannelMessageSendComplex(channel, send, discordgo.WithContext(ctx))
	}
	body := struct {
		*discordgo.MessageSend
		Nonce        string `json:"nonce"`
		EnforceNonce bool   `json:"enforce_nonce"`
	}{send, nonce, true}
	for _, e := range send.Embeds {
		if e.Type == "" {
			e.Type = discordgo.EmbedTypeRich
		}
	}
	endpoint := discordgo.EndpointChannelMessages(channel)
	raw, err := a.session.RequestWithBucketID(http.MethodPost, endpoint, body, endpoint, discordgo.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	var msg discordgo.Message
	if err := json.Unmarshal(raw, &msg); err != nil {
		return nil, fmt.Errorf("discord: decode the created message: %w", err)
	}
	return &msg, nil
}

// destination is the channel m goes to, and the Discord user to ping:
// the assignee of a task notice, nobody otherwise.
func (a *Adapter) destination(ctx context.Context, m notify.Message) (channel, ping string, err error) {
	if m.To != "" {
		p, ok := a.cfg().Person(m.To)
		if !ok || p.Discord == "" {
			return "", "", nil
		}
		ch, err := a.dmChannel(ctx, p.Discord)
		if err != nil {
			return "", "", err
		}
		if m.Kind == "task" {
			ping = p.Discord
		}
		return ch, ping, nil
	}
	if s, ok := a.cfg().Site(m.Site); ok {
		return s.Channels.Discord, "", nil
	}
	return "", "", nil
}

// dmChannel opens (once per process) the DM channel with a user.
func (a *Adapter) dmChannel(ctx context.Context, userID string) (string, error) {
	a.mu.Lock()
	ch, ok := a.dms[userID]
	a.mu.Unlock()
	if ok {
		return ch, nil
	}
	var c *discordgo.Channel
	err := a.retry(ctx, func() error {
		var err error
		c, err = a.session.UserChannelCreate(userID, discordgo.WithContext(ctx))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("discord: open DM with %s: %w", userID, err)
	}
	a.mu.Lock()
	a.dms[userID] = c.ID
	a.mu.Unlock()
	return c.ID, nil
}

// cardIn is a reference to ref's card in channel, for replies; nil when
// muster posted none there.
func (a *Adapter) cardIn(ctx context.Context, ref, channel string) *discordgo.MessageReference {
	locs, err := a.st.Cards(ctx, Platform, ref)
	if err != nil {
		return nil
	}
	for _, loc := range locs {
		if ch, id, ok := strings.Cut(loc, "/"); ok && ch == channel {
			no := false
			return &discordgo.MessageReference{MessageID: id, ChannelID: ch, FailIfNotExists: &no}
		}
	}
	return nil
}

// retry runs f, waiting out 429 answers (Retry-After) on the adapter's
// clock up to maxAttempts times, unless ctx ends first.
func (a *Adapter) retry(ctx context.Context, f func() error) error {
	for attempt := 1; ; attempt++ {
		err := f()
		var rl *discordgo.RateLimitError
		if err == nil || !errors.As(err, &rl) || attempt >= maxAttempts {
			return err
		}
		wait := time.Second
		if rl.RateLimit != nil && rl.TooManyRequests != nil && rl.RetryAfter > 0 {
			wait = rl.RetryAfter
		}
		if wait > maxRateWait {
			return err
		}
		a.log.Info("discord rate limited; waiting", zap.Duration("retry_after", wait), zap.Int("attempt", attempt))
		c, stop := a.clk.After(wait)
		select {
		case <-c:
		case <-ctx.Done():
			stop()
			return fmt.Errorf("%w (while waiting out: %w)", ctx.Err(), err)
		}
	}
}

// retryable maps an error of a Discord call to the Notifier's retry flag
// by muster's one retry policy (notify.Failure).
func retryable(err error) bool {
	if err == nil {
		return false
	}
	return failure(err).Retryable()
}

// failure says what a discordgo error means for the retry policy.
func failure(err error) notify.Failure {
	var rl *discordgo.RateLimitError
	var rest *discordgo.RESTError
	f := notify.Failure{}.Transport(err)
	switch {
	case f.Stopped:
	case errors.As(err, &rl):
		f.RateLimited = true
	case errors.As(err, &rest):
		if rest.Response != nil {
			f.Status = rest.Response.StatusCode
		} else {
			f.Status = http.StatusBadRequest // refused before it was sent
		}
	}
	return f
}

// unknownMessage reports whether err is Discord's 404 for a message that
// no longer exists (deleted by someone).
func unknownMessage(err error) bool {
	var rest *discordgo.RESTError
	return errors.As(err, &rest) && rest.Response != nil && rest.Response.StatusCode == http.StatusNotFound
}
