// Package twilio sends muster's SMS and voice calls through Twilio's REST
// API with twilio-go: Api.CreateMessage for SMS, Api.CreateCall for calls
// whose TwiML muster serves itself (POST /twilio/voice, bot/sms). Every
// message and call asks for status callbacks at
// <server.public_url>/twilio/status, and its SID is remembered so those
// callbacks find the task.
//
// Pacing, retries and durability are the outbox's (notify.Deliverer): a
// Client makes one attempt per Notify and says, through the retry flag,
// whether another attempt could succeed.
//
// # Sending again after an unknown outcome
//
// Twilio takes no idempotency key. When an earlier attempt may have
// delivered an SMS or placed a call without its outcome being recorded
// (notify.Message MaybeSent: its process died mid-send, or the request
// timed out or lost its connection after it was written, which this client
// reports as ErrOutcomeUnknown), Notify first lists what this sender sent
// to the same number (one GET of Messages.json or Calls.json with To and
// From, one page, newest first) and looks for one created no earlier than
// the first attempt, less LookupMargin (for an SMS, one with the same
// body), that muster does not already know as another message (escalation
// often sends the same text, or calls the same person, again: the SIDs of
// messages and calls whose outcome was recorded are remembered, and such a
// one is not this one). Found: it is not sent or called again, Notify
// reports success and remembers that SID for the status callbacks. Not
// found: it is sent or called as usual. The lookup failed: it is sent or
// called as usual too (at least once beats never), and the failure is
// logged.
//
// The lookups filter by date in code, on date_created, not with Twilio's
// DateSent or StartTime filters: a message still in Twilio's queue (a
// call-out beyond the sender's rate) has no date_sent yet, nor has a call
// not yet dialed a start_time, and those filters would miss exactly the
// one looked for. A call has no body to match: any call from this sender
// to the number in that window that muster does not know as another
// message is taken for it.
package twilio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	twiliogo "github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
	"github.com/twilio/twilio-go/twiml"
	"go.uber.org/zap"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/logging"
	"github.com/muster-ops/muster/notify"
	"github.com/muster-ops/muster/store"
)

// StatusPath, VoicePath and GatherPath are the webhook paths, under
// server.public_url, that Twilio calls (served by bot/sms).
const (
	StatusPath = "/twilio/status"
	VoicePath  = "/twilio/voice"
	GatherPath = "/twilio/voice/gather"
)

// Timeout bounds one request to Twilio. The outbox's lease must be well
// above it, so a slow request is never sent twice by two processes.
const Timeout = 10 * time.Second

// People finds the phone number of a message's recipient, a person or an
// outside contact ("contact:<id>") (*configs.Config).
type People interface {
	Recipient(id string) (*configs.Person, bool)
}

// Deliveries remembers which message a SID is (*store.Store).
type Deliveries interface {
	MapDelivery(ctx context.Context, providerID string, d store.Delivery) error
}

// Options configure a Client.
type Options struct {
	// AccountSID and AuthToken authenticate (HTTP Basic).
	AccountSID string
	AuthToken  string
	// From is the sending number (E.164); MessagingServiceSID is used for
	// SMS instead when set. Calls need From.
	From                string
	MessagingServiceSID string
	// APIURL replaces https://api.twilio.com when set (twilio.api_url):
	// tests, proxies. Its path, if any, is put before Twilio's paths.
	APIURL string
	// PublicURL is server.public_url: where Twilio sends callbacks.
	PublicURL string
	People    People
	// Deliveries, when set, remembers each SID for the status callbacks.
	Deliveries Deliveries
	// Transport carries the requests (http.DefaultTransport's settings
	// when nil).
	Transport http.RoundTripper
	Logger    *zap.Logger
}

// Client sends SMS and calls. It is a notify.Notifier for both channels.
type Client struct {
	rest      *twiliogo.RestClient
	from      string
	service   string
	publicURL string
	people    People
	deliv     Deliveries
	log       *zap.Logger
}

var _ notify.Notifier = (*Client)(nil)

// New builds a Client.
func New(o Options) (*Client, error) {
	var errs []error
	if o.AccountSID == "" {
		errs = append(errs, errors.New("twilio: no account SID (twilio.account_sid or its environment variable)"))
	}
	if o.AuthToken == "" {
		errs = append(errs, errors.New("twilio: no auth token (the environment variable twilio.auth_token_env names)"))
	} else if !alphanumeric(o.AuthToken) {
		// twilio-go refuses such a password on every request (21224).
		errs = append(errs, errors.New("twilio: the auth token must be letters and digits only; check the environment variable twilio.auth_token_env names"))
	}
	if o.From == "" && o.MessagingServiceSID == "" {
		errs = append(errs, errors.New("twilio: set twilio.from or twilio.messaging_service_sid"))
	}
	if o.PublicURL == "" {
		errs = append(errs, errors.New("twilio: server.public_url is required for status callbacks and voice"))
	}
	if o.People == nil {
		errs = append(errs, errors.New("twilio: no people to find phone numbers in"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	rt := o.Transport
	if rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		// A call-out keeps hundreds of requests in flight (a lane's
		// workers, notify.laneWorkers): keep their connections instead
		// of opening new ones.
		t.MaxIdleConnsPerHost = 1024
		rt = t
	}
	if o.APIURL != "" {
		u, err := url.Parse(o.APIURL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("twilio: api_url %q is not an absolute URL", o.APIURL)
		}
		rt = &rebase{base: u, next: rt}
	}
	rest := twiliogo.NewRestClientWithParams(twiliogo.ClientParams{Username: o.AccountSID, Password: o.AuthToken, AccountSid: o.AccountSID})
	c, ok := rest.RequestHandler.Client.(*client.Client)
	if !ok {
		return nil, fmt.Errorf("twilio: unexpected twilio-go client %T", rest.RequestHandler.Client)
	}
	// twilio-go has no base-URL option and sends with
	// context.Background(): its HTTP client carries the base URL and the
	// timeout. Twilio never redirects the API; a redirect is answered as is.
	c.HTTPClient = &http.Client{
		Transport:     rt,
		Timeout:       Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	return &Client{rest: rest, from: o.From, service: o.MessagingServiceSID,
		publicURL: strings.TrimSuffix(o.PublicURL, "/"), people: o.People, deliv: o.Deliveries, log: log}, nil
}

func alphanumeric(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// rebase sends every request to base, keeping the path (after base's own
// path) and the query.
type rebase struct {
	base *url.URL
	next http.RoundTripper
}

// RoundTrip rewrites the request's URL and passes it on.
func (rt *rebase) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = rt.base.Scheme, rt.base.Host, ""
	if p := strings.TrimSuffix(rt.base.Path, "/"); p != "" {
		r.URL.Path = p + r.URL.Path
		r.URL.RawPath = ""
	}
	return rt.next.RoundTrip(r)
}

// Notify sends m by SMS or voice, as its channel says. retry reports
// whether another attempt could succeed (see Retryable).
func (c *Client) Notify(ctx context.Context, m notify.Message) (bool, error) {
	p, ok := c.people.Recipient(m.To)
	if !ok || p.Phone == "" {
		return false, fmt.Errorf("twilio: no phone number for %q", m.To)
	}
	var (
		sid   string
		err   error
		found bool
	)
	switch m.Channel {
	case notify.SMS:
		if !m.MaybeSent.IsZero() {
			var lerr error
			sid, lerr = c.FindSMS(ctx, p.Phone, m.Text, m.MaybeSent.Add(-LookupMargin), m.Key)
			found = sid != ""
			if lerr != nil {
				c.log.Warn("twilio lookup failed; sending again, which may deliver the SMS twice",
					zap.String("to", m.To), zap.String("key", m.Key), zap.Error(lerr))
			}
		}
		if !found {
			sid, err = c.SendSMS(ctx, p.Phone, m.Text)
		}
	case notify.Voice:
		if !m.MaybeSent.IsZero() && c.from != "" {
			var lerr error
			sid, lerr = c.FindCall(ctx, p.Phone, m.MaybeSent.Add(-LookupMargin), m.Key)
			found = sid != ""
			if lerr != nil {
				c.log.Warn("twilio lookup failed; calling again, which may ring twice",
					zap.String("to", m.To), zap.String("key", m.Key), zap.Error(lerr))
			}
		}
		if !found {
			sid, err = c.Call(ctx, p.Phone, m.Ref, m.Text)
		}
	default:
		return false, fmt.Errorf("twilio: cannot deliver channel %q", m.Channel)
	}
	if err != nil {
		return Retryable(err), err
	}
	what := "twilio accepted"
	if found {
		what = "twilio had accepted it already; not sent again"
	}
	c.log.Info(what, zap.String("channel", m.Channel), zap.String("sid", sid), zap.String("to", m.To),
		zap.String("phone", logging.MaskPhone(p.Phone)), zap.String("key", m.Key))
	if c.deliv != nil && sid != "" {
		task, _ := store.ParseID("T", m.Ref)
		if !strings.HasPrefix(strings.ToUpper(m.Ref), "T-") {
			task = 0
		}
		// The message went out: a failure to remember its SID loses only
		// its status reports, so it is logged, not returned (a retry
		// would send it twice).
		if err := c.deliv.MapDelivery(ctx, sid, store.Delivery{Task: task, Key: m.Key, Channel: m.Channel, To: m.To}); err != nil {
			c.log.Warn("twilio sid not remembered; its status reports will be ignored", zap.String("sid", sid), zap.Error(err))
		}
	}
	return false, nil
}

// SendSMS sends one SMS to phone and returns its SID. The body is made
// GSM-7 where it can be (notify.SMSText).
func (c *Client) SendSMS(_ context.Context, phone, body string) (string, error) {
	params := &openapi.CreateMessageParams{}
	params.SetTo(phone)
	if c.service != "" {
		params.SetMessagingServiceSid(c.service)
	} else {
		params.SetFrom(c.from)
	}
	params.SetBody(notify.SMSText(body))
	params.SetStatusCallback(c.publicURL + StatusPath)
	msg, err := c.rest.Api.CreateMessage(params)
	if err != nil {
		return "", wrap("sms", err)
	}
	if msg.Sid == nil {
		return "", nil // accepted; only its status reports are lost
	}
	return *msg.Sid, nil
}

// LookupMargin is how much earlier than the first attempt a message or
// call found by FindSMS or FindCall may have been created: the skew
// between muster's clock and Twilio's, and the whole seconds of
// date_created.
const LookupMargin = time.Minute

// lookupPage is how many of the newest messages or calls to one number
// FindSMS and FindCall read (one page). A number that got more from this
// sender since the first attempt is beyond it; the message is then sent
// (or the call placed) again.
const lookupPage = 100

// FindSMS looks for an SMS this client's sender sent to phone with body
// (as SendSMS sends it), created at since or later, that muster does not
// know as another message than the one keyed key, and returns its SID, or
// "" when there is none.
func (c *Client) FindSMS(ctx context.Context, phone, body string, since time.Time, key string) (string, error) {
	params := &openapi.ListMessageParams{}
	params.SetTo(phone)
	if c.service == "" {
		params.SetFrom(c.from)
	}
	params.SetPageSize(lookupPage)
	page, err := c.rest.Api.PageMessage(params, "", "")
	if err != nil {
		return "", wrap("sms lookup", err)
	}
	body = notify.SMSText(body)
	var candidates []string
	for _, m := range page.Messages {
		switch {
		case m.Sid == nil || m.Body == nil || *m.Body != body || m.DateCreated == nil:
			continue
		case c.service != "" && (m.MessagingServiceSid == nil || *m.MessagingServiceSid != c.service):
			continue
		}
		created, err := time.Parse(time.RFC1123Z, *m.DateCreated)
		if err != nil || created.Before(since.Truncate(time.Second)) {
			continue
		}
		candidates = append(candidates, *m.Sid)
	}
	return c.unknown(ctx, candidates, key, "sms lookup")
}

// FindCall looks for a call this client's sender placed to phone, created
// at since or later, that muster does not know as another message than the
// one keyed key, and returns its SID, or "" when there is none.
func (c *Client) FindCall(ctx context.Context, phone string, since time.Time, key string) (string, error) {
	params := &openapi.ListCallParams{}
	params.SetTo(phone)
	params.SetFrom(c.from)
	params.SetPageSize(lookupPage)
	page, err := c.rest.Api.PageCall(params, "", "")
	if err != nil {
		return "", wrap("call lookup", err)
	}
	var candidates []string
	for _, call := range page.Calls {
		if call.Sid == nil || call.DateCreated == nil {
			continue
		}
		created, err := time.Parse(time.RFC1123Z, *call.DateCreated)
		if err != nil || created.Before(since.Truncate(time.Second)) {
			continue
		}
		candidates = append(candidates, *call.Sid)
	}
	return c.unknown(ctx, candidates, key, "call lookup")
}

// unknown returns the first of candidates (newest first) that muster does
// not know as another message than the one keyed key, or "". what names
// the lookup in its error.
func (c *Client) unknown(ctx context.Context, candidates []string, key, what string) (string, error) {
	if len(candidates) == 0 {
		return "", nil
	}
	known := make([]string, len(candidates))
	if k, ok := c.deliv.(deliveryKeys); ok {
		var err error
		if known, err = k.DeliveryKeys(ctx, candidates); err != nil {
			return "", wrap(what, err)
		}
	}
	for i, sid := range candidates {
		if known[i] == "" || known[i] == key {
			return sid, nil
		}
	}
	return "", nil
}

// deliveryKeys is the part of the store that says which message a SID was
// sent for (store.Store.DeliveryKeys).
type deliveryKeys interface {
	DeliveryKeys(ctx context.Context, sids []string) ([]string, error)
}

// Call places a voice call to phone. For a task (ref T-n) Twilio fetches
// the call's TwiML from <public_url>/twilio/voice?task=T-n, which reads the
// task and offers "press 1 to acknowledge"; anything else is read out
// from text.
func (c *Client) Call(_ context.Context, phone, ref, text string) (string, error) {
	if c.from == "" {
		return "", &Error{Status: 0, Code: 0, Message: "voice calls need twilio.from (a Messaging Service cannot call)"}
	}
	params := &openapi.CreateCallParams{}
	params.SetTo(phone)
	params.SetFrom(c.from)
	if _, err := store.ParseID("T", ref); err == nil && strings.HasPrefix(strings.ToUpper(ref), "T-") {
		params.SetUrl(c.publicURL + VoicePath + "?task=" + url.QueryEscape(strings.ToUpper(ref)))
		params.SetMethod(http.MethodPost)
	} else {
		params.SetTwiml(SayTwiML(text))
	}
	params.SetStatusCallback(c.publicURL + StatusPath)
	params.SetStatusCallbackMethod(http.MethodPost)
	params.SetTimeout(30)
	call, err := c.rest.Api.CreateCall(params)
	if err != nil {
		return "", wrap("call", err)
	}
	if call.Sid == nil {
		return "", nil // accepted; only its status reports are lost
	}
	return *call.Sid, nil
}

// Error is Twilio's refusal of a request.
type Error struct {
	Status  int // HTTP status; 0 when muster refused before asking
	Code    int // Twilio error code (21211, 20429, ...)
	Message string
	What    string // "sms" or "call"
}

// Error says what Twilio said, phone numbers masked.
func (e *Error) Error() string {
	return logging.MaskText(fmt.Sprintf("twilio %s: %d %d: %s", e.What, e.Status, e.Code, e.Message))
}

// ErrOutcomeUnknown marks a failed request that may have reached Twilio
// all the same: it timed out, or its connection broke, after it was
// written. Its text is store.OutcomeUnknown, which the outbox records with
// the retry, so the next attempt looks the message up before sending it
// again (see the package doc).
var ErrOutcomeUnknown = errors.New(store.OutcomeUnknown)

// wrap turns twilio-go's errors into *Error (API answers) or a wrapped
// transport error; one that may have come after the request reached
// Twilio also wraps ErrOutcomeUnknown. A request that could not connect
// never reached it.
func wrap(what string, err error) error {
	var rest *client.TwilioRestError
	if errors.As(err, &rest) {
		return &Error{Status: rest.Status, Code: rest.Code, Message: rest.Message, What: what}
	}
	var v1 *client.RestErrorV1
	if errors.As(err, &v1) {
		return &Error{Status: v1.HttpStatusCode, Code: v1.Code, Message: v1.Message, What: what}
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return fmt.Errorf("twilio %s: %w", what, err)
	}
	return fmt.Errorf("twilio %s: %w: %w", what, ErrOutcomeUnknown, err)
}

// Retryable is the one place that decides whether a failed request may
// succeed if tried again: rate limits (429, 20429), Twilio's own failures
// (5xx, 20500, 20503), timeouts and connection errors may; every other
// answer (an invalid number 21211, an unsubscribed recipient 21610, a
// landline 21614, a region not enabled 21408, bad credentials 20003)
// never will.
//
// The decision itself is muster's one retry policy (notify.Failure);
// this only says what a Twilio error means for it.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	return failure(err).Retryable()
}

func failure(err error) notify.Failure {
	var te *Error
	if errors.As(err, &te) {
		f := notify.Failure{Status: te.Status, RateLimited: te.Code == 20429,
			VendorTransient: te.Code == 20500 || te.Code == 20503}
		if te.Status == 0 {
			f.Status = http.StatusBadRequest // refused before it was sent
		}
		return f
	}
	// Anything else failed on the way (a timeout, a reset connection, a
	// body that did not decode, a cancelled request): it may or may not
	// have arrived, and the look-up before a resend settles which.
	return notify.Failure{NoAnswer: true}
}

// TwiML is a TwiML document of verbs, rendered by twilio-go's twiml
// package (which escapes text and attributes). Empty, it answers a
// webhook with nothing to do.
func TwiML(verbs ...twiml.Element) string {
	doc, response := twiml.CreateDocument()
	twiml.AddAllVerbs(response, verbs)
	out, err := twiml.ToXML(doc)
	if err != nil { // cannot happen: etree writes to a strings.Builder
		return `<?xml version="1.0" encoding="UTF-8"?><Response/>`
	}
	return out
}

// Say reads text out on a call.
func Say(text string) twiml.Element { return &twiml.VoiceSay{Message: xmlText(text)} }

// Message answers an SMS with text.
func Message(text string) twiml.Element { return &twiml.MessagingMessage{Body: xmlText(text)} }

// Gather asks for one key on a call and posts it to action; say is read
// out while it waits.
func Gather(action string, timeoutSeconds int, say ...twiml.Element) twiml.Element {
	return &twiml.VoiceGather{Input: "dtmf", NumDigits: "1", Timeout: strconv.Itoa(timeoutSeconds), Method: "POST",
		Action: xmlText(action), InnerElements: say}
}

// SayTwiML is a TwiML document that reads text out.
func SayTwiML(text string) string { return TwiML(Say(text)) }

// xmlText drops the characters XML 1.0 cannot carry (control
// characters other than tab and line breaks); the twiml package escapes
// the rest.
func xmlText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' && r != '\t' && r != '\r' {
			return -1
		}
		return r
	}, s)
}
