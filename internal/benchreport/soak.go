package benchreport

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	slackbot "github.com/muster-ops/muster/bot/slack"
)

// SlackClient sends signed slash commands to muster's /slack/commands, as
// Slack does.
type SlackClient struct {
	// URL is muster's base URL.
	URL string
	// Secret is the signing secret muster was started with.
	Secret string
	// ResponseURL, when set, gives each command's response_url.
	ResponseURL func() string
	// HTTP is the client to use (default: 10 s timeout).
	HTTP *http.Client

	seq atomic.Int64
}

// Command sends one slash command as user from channel, and returns the
// answer's text and the time to it.
func (c *SlackClient) Command(ctx context.Context, user, channel, command, text string) (string, time.Duration, error) {
	req := c.Sign(user, channel, command, text)
	start := time.Now()
	status, answer, err := c.Send(ctx, req)
	took := time.Since(start)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("HTTP %d: %.200s", status, answer)
	}
	if err != nil {
		return "", took, fmt.Errorf("%s %s: %w", command, text, err)
	}
	return answer, took, nil
}

// SignedCommand is one slash command signed as Slack signs it: sending
// the same value twice is a replay.
type SignedCommand struct {
	Body, Timestamp, Signature string
}

// Sign builds and signs one slash command as user from channel.
func (c *SlackClient) Sign(user, channel, command, text string) SignedCommand {
	resp := "http://127.0.0.1:1/response/none"
	if c.ResponseURL != nil {
		resp = c.ResponseURL()
	}
	body := url.Values{
		"team_id": {"T0FAKE0001"}, "channel_id": {channel}, "user_id": {user},
		"command": {command}, "text": {text}, "response_url": {resp},
		"trigger_id": {strconv.FormatInt(c.seq.Add(1), 10)},
	}.Encode()
	ts := time.Now().Unix()
	return SignedCommand{Body: body, Timestamp: strconv.FormatInt(ts, 10), Signature: slackbot.Sign(c.Secret, ts, []byte(body))}
}

// Send posts a signed command and returns the HTTP status and, for a
// 200, the answer's text (else the body).
func (c *SlackClient) Send(ctx context.Context, sc SignedCommand) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL+"/slack/commands", strings.NewReader(sc.Body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", sc.Timestamp)
	req.Header.Set("X-Slack-Signature", sc.Signature)
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	r, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	_ = r.Body.Close()
	if err != nil {
		return r.StatusCode, "", err
	}
	if r.StatusCode != http.StatusOK {
		return r.StatusCode, string(raw), nil
	}
	var answer slackbot.Response
	if err := json.Unmarshal(raw, &answer); err != nil {
		return r.StatusCode, "", fmt.Errorf("answer %.200q: %w", raw, err)
	}
	return r.StatusCode, answer.Text, nil
}

// SoakOptions says how long and how fast to soak.
type SoakOptions struct {
	Client   *SlackClient
	Duration time.Duration
	// Rate is commands per second (sent one after the other on a fixed
	// schedule; a slow answer delays the next).
	Rate float64
	// Sample is how often RSS is read.
	Sample time.Duration
	// RSS reads the process's resident set size.
	RSS func() (int64, error)
	// Progress, when set, is called after each RSS sample.
	Progress func(at time.Duration, rss int64, sent int)
}

// RSSSample is one reading during the soak.
type RSSSample struct {
	At  time.Duration // since the soak started
	RSS int64
}

// SoakResult is what the soak saw.
type SoakResult struct {
	Elapsed time.Duration
	// Sent counts commands sent; Failed those without a 200 and a JSON
	// answer; Unexpected those whose answer lacked what it should say.
	Sent, Failed, Unexpected int
	// Examples are the first few failures and unexpected answers.
	Examples []string
	// Triggers counts plans triggered (and stood down).
	Triggers int
	// P50, P99 and Max are the answer times.
	P50, P99, Max time.Duration
	Samples       []RSSSample
}

// soakUser is farid (supervisor and guard), who may do everything the
// soak does.
const soakUser = "U0FARID"

var (
	incRef  = regexp.MustCompile(`\bINC-\d+\b`)
	actRef  = regexp.MustCompile(`\bA-\d+\b`)
	taskRef = regexp.MustCompile(`\bT-\d+\b`)
)

// soakStep is one command of the soak's cycle; text may use the refs of
// the cycle so far; want is a piece the answer must contain.
type soakStep struct {
	command string
	text    func(c *soakCycle) string
	want    func(c *soakCycle) string
	// after reads refs from the answer.
	after func(c *soakCycle, answer string)
}

// soakCycle is the state of one cycle: its site and the refs it made.
type soakCycle struct {
	n              int
	site, channel  string
	inc, act, task string
	trigger        bool
}

func lit(s string) func(*soakCycle) string { return func(*soakCycle) string { return s } }

// soakSteps is one cycle: an incident raised, looked at and resolved
// around the read commands, and every tenth cycle a plan triggered, one
// of its tasks acknowledged and the plan stood down. Only the raise, the
// resolve and the plan's messages post to Slack, which keeps each
// channel's posts under Slack's one a second at the default rate.
var soakSteps = []soakStep{
	{command: "/incident", text: func(c *soakCycle) string {
		return fmt.Sprintf("raise intrusion sev3 @%s soak cycle %d: fence panel loose", c.site, c.n)
	}, want: lit("INC-"), after: func(c *soakCycle, a string) { c.inc = incRef.FindString(a) }},
	{command: "/incident", text: lit("list"), want: lit("")},
	{command: "/roster", text: func(c *soakCycle) string { return "@" + c.site }, want: lit("")},
	{command: "/muster", text: lit("whoami"), want: lit("Farid")},
	{command: "/incident", text: func(c *soakCycle) string { return "show " + c.inc }, want: func(c *soakCycle) string { return c.inc }},
	{command: "/plan", text: lit("list"), want: lit("fire-evacuation")},
	{command: "/plan", text: lit("status"), want: lit("")},
	{command: "/muster", text: lit("status"), want: lit("")},
	{command: "/roster", text: func(c *soakCycle) string { return "@" + c.site + " week" }, want: lit("")},
	{command: "/incident", text: func(c *soakCycle) string { return "list all @" + c.site }, want: lit("")},
	{command: "/plan", text: lit("show fire-evacuation"), want: lit("Fire evacuation")},
	{command: "/plan", text: func(c *soakCycle) string { return "dryrun fire-evacuation @" + c.site }, want: lit("Fire evacuation")},
	{command: "/muster", text: lit("help"), want: lit("muster commands")},
	{command: "/roster", text: func(c *soakCycle) string { return "@" + c.site + " next" }, want: lit("")},
	{command: "/incident", text: func(c *soakCycle) string { return "list open @" + c.site }, want: lit("")},
	{command: "/plan", text: func(c *soakCycle) string {
		if c.trigger {
			return fmt.Sprintf("trigger fire-evacuation @%s soak cycle %d", c.site, c.n)
		}
		return "show intruder-lockdown"
	}, want: func(c *soakCycle) string {
		if c.trigger {
			return "A-"
		}
		return "Intruder lockdown"
	}, after: func(c *soakCycle, a string) {
		if c.trigger {
			c.act, c.task = actRef.FindString(a), taskRef.FindString(a)
		}
	}},
	{command: "/ack", text: func(c *soakCycle) string {
		if c.trigger && c.task != "" {
			return c.task + " soak check"
		}
		return ""
	}},
	{command: "/plan", text: func(c *soakCycle) string {
		if c.trigger && c.act != "" {
			return "standdown " + c.act
		}
		return ""
	}},
	{command: "/incident", text: func(c *soakCycle) string { return "show " + c.inc }, want: func(c *soakCycle) string { return c.inc }},
	{command: "/incident", text: func(c *soakCycle) string { return "resolve " + c.inc + " soak: panel refitted" }, want: func(c *soakCycle) string { return c.inc }},
}

// Soak sends soakSteps' cycles for o.Duration at o.Rate and reads RSS
// every o.Sample. It stops early when ctx ends.
func Soak(ctx context.Context, o SoakOptions) (SoakResult, error) {
	if o.Rate <= 0 || o.Duration <= 0 || o.Client == nil || o.RSS == nil {
		return SoakResult{}, fmt.Errorf("soak: rate, duration, client and RSS are required")
	}
	if o.Sample <= 0 {
		o.Sample = 5 * time.Second
	}
	var (
		res     SoakResult
		mu      sync.Mutex // guards res.Samples and sent below
		sent    int
		lat     []time.Duration
		rssErr  error
		start   = time.Now()
		stopped = make(chan struct{})
		wg      sync.WaitGroup
	)
	sample := func() {
		rss, err := o.RSS()
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if rssErr == nil {
				rssErr = err
			}
			return
		}
		at := time.Since(start)
		res.Samples = append(res.Samples, RSSSample{At: at, RSS: rss})
		if o.Progress != nil {
			o.Progress(at, rss, sent)
		}
	}
	sample()
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(o.Sample)
		defer t.Stop()
		for {
			select {
			case <-stopped:
				return
			case <-t.C:
				sample()
			}
		}
	}()
	note := func(s string) {
		if len(res.Examples) < 5 {
			res.Examples = append(res.Examples, s)
		}
	}
	sites := [][2]string{{"harbour", "C0HARBOUR"}, {"depot", "C0DEPOT"}}
	deadline := start.Add(o.Duration)
	i := 0
loop:
	for n := 0; ; n++ {
		c := &soakCycle{n: n, site: sites[n%2][0], channel: sites[n%2][1], trigger: n%10 == 9}
		for _, st := range soakSteps {
			text := st.text(c)
			if text == "" {
				continue
			}
			due := start.Add(time.Duration(float64(i) / o.Rate * float64(time.Second)))
			if !due.Before(deadline) {
				break loop
			}
			if wait := time.Until(due); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					break loop
				case <-t.C:
				}
			}
			i++
			answer, took, err := o.Client.Command(ctx, soakUser, c.channel, st.command, text)
			mu.Lock()
			sent++
			mu.Unlock()
			res.Sent++
			lat = append(lat, took)
			if err != nil {
				res.Failed++
				note(err.Error())
				continue
			}
			if st.want != nil {
				if w := st.want(c); !strings.Contains(answer, w) {
					res.Unexpected++
					note(fmt.Sprintf("%s %s: answer %.160q lacks %q", st.command, text, answer, w))
				}
			}
			if st.after != nil {
				st.after(c, answer)
			}
		}
		if c.trigger && c.act != "" {
			res.Triggers++
		}
	}
	sample()
	close(stopped)
	wg.Wait()
	res.Elapsed = time.Since(start)
	slices.Sort(lat)
	if len(lat) > 0 {
		res.P50, res.P99, res.Max = lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]
	}
	if rssErr != nil {
		return res, fmt.Errorf("soak: %w", rssErr)
	}
	return res, ctx.Err()
}

// LogSummary counts a JSON log's lines by level and the most frequent
// warning and error messages.
type LogSummary struct {
	Lines, Warn, Error int
	// Top is "level: message ×count", most frequent first, at most 5.
	Top []string
	// Examples are the first line of each warning and error message, in
	// order, at most 10.
	Examples []string
}

// SummarizeLog reads a zap JSON log file.
func SummarizeLog(path string) (LogSummary, error) {
	f, err := os.Open(path)
	if err != nil {
		return LogSummary{}, fmt.Errorf("log summary: %w", err)
	}
	defer f.Close()
	var s LogSummary
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		s.Lines++
		var e struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		switch e.Level {
		case "warn":
			s.Warn++
		case "error", "dpanic", "panic", "fatal":
			s.Error++
		default:
			continue
		}
		k := e.Level + ": " + e.Msg
		if counts[k] == 0 && len(s.Examples) < 10 {
			s.Examples = append(s.Examples, sc.Text())
		}
		counts[k]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if counts[keys[i]] != counts[keys[j]] {
			return counts[keys[i]] > counts[keys[j]]
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys[:min(5, len(keys))] {
		s.Top = append(s.Top, fmt.Sprintf("%s ×%d", k, counts[k]))
	}
	return s, sc.Err()
}
