package benchreport

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/muster-ops/muster/configs"
)

// LiveRate is the SMS rate the live configuration gives Twilio: the
// highest twilio.rate takes, so pacing never holds a message back
// (a call-out of 1,000 is well inside its 100 ms burst).
const LiveRate = configs.MaxTwilioRate

// Responder is the id of the i-th call-out responder (1-based).
func Responder(i int) string { return fmt.Sprintf("r%04d", i) }

// WriteLiveConfig writes the example configuration for one measured
// process: its namespace, Slack and Twilio API URLs, Twilio at LiveRate,
// and n call-out responders r0001... (each with a phone, and a policy
// to-rNNNN that escalates to them by SMS and waits 30 minutes) in the
// plan "callout", one task each. It checks the file loads.
func WriteLiveConfig(dir, namespace, slackAPI, twilioAPI string, n int) (string, error) {
	return writeLiveConfig(dir, namespace, slackAPI, twilioAPI, n, LiveRate)
}

// writeLiveConfig is WriteLiveConfig with Twilio at rate SMS a second.
func writeLiveConfig(dir, namespace, slackAPI, twilioAPI string, n int, rate float64) (string, error) {
	doc, root, err := exampleConfig(dir, namespace, slackAPI, twilioAPI, rate)
	if err != nil {
		return "", err
	}
	var people, policies, tasks []map[string]any
	for i := 1; i <= n; i++ {
		id := Responder(i)
		people = append(people, map[string]any{"id": id, "name": "Responder " + id,
			"phone": fmt.Sprintf("+447701%06d", i), "roles": []string{"guard"}})
		policies = append(policies, map[string]any{"id": "to-" + id, "steps": []map[string]any{{
			"escalate_to": map[string]string{"person": id}, "notify": []string{"sms"}, "wait": "30m"}}})
		tasks = append(tasks, map[string]any{"title": "Report in to the control room", "role": "guard", "policy": "to-" + id})
	}
	if n > 0 {
		if err := appendItems(root, "people", people); err != nil {
			return "", err
		}
		if err := appendItems(root, "policies", policies); err != nil {
			return "", err
		}
		if err := appendItems(root, "plans", []map[string]any{{"id": "callout", "name": "Call-out", "version": 1,
			"triggered_by": []string{"supervisor"}, "target": "15m", "broadcast": "CALL-OUT: all responders report in.",
			"tasks": tasks}}); err != nil {
			return "", err
		}
	}
	return saveConfig(doc, dir, namespace)
}

// setNumber sets a number at path in a YAML mapping (which must exist up
// to its parent).
func setNumber(m *yaml.Node, value string, path ...string) {
	setKey(m, value, path...)
	for _, k := range path {
		for j := 0; j+1 < len(m.Content); j += 2 {
			if m.Content[j].Value == k {
				m = m.Content[j+1]
				break
			}
		}
	}
	m.Tag, m.Style = "!!float", 0
}

// appendItems appends items to the sequence under key in a YAML mapping.
func appendItems(m *yaml.Node, key string, items any) error {
	raw, err := yaml.Marshal(items)
	if err != nil {
		return err
	}
	var n yaml.Node
	if err := yaml.Unmarshal(raw, &n); err != nil || len(n.Content) == 0 {
		return fmt.Errorf("live config %s: %v", key, err)
	}
	for j := 0; j+1 < len(m.Content); j += 2 {
		if m.Content[j].Value == key && m.Content[j+1].Kind == yaml.SequenceNode {
			m.Content[j+1].Content = append(m.Content[j+1].Content, n.Content[0].Content...)
			return nil
		}
	}
	return fmt.Errorf("live config: no list %q in the example", key)
}

// smsCounter stands before the fake Twilio and counts the SMS it accepts
// (HTTP 201 to a Messages create), with the time each request arrived:
// counting here keeps the measurement from copying the fake's records.
type smsCounter struct {
	next http.Handler
	// mu guards the fields that follow.
	mu      sync.Mutex
	arrived []time.Time
	waiters []smsWaiter
}

type smsWaiter struct {
	n  int
	ch chan struct{}
}

func (c *smsCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/Messages.json") {
		c.next.ServeHTTP(w, r)
		return
	}
	at := time.Now()
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	c.next.ServeHTTP(sw, r)
	if sw.status != http.StatusCreated {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.arrived = append(c.arrived, at)
	keep := c.waiters[:0]
	for _, wt := range c.waiters {
		if len(c.arrived) >= wt.n {
			close(wt.ch)
		} else {
			keep = append(keep, wt)
		}
	}
	c.waiters = keep
}

// count is how many SMS were accepted so far.
func (c *smsCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.arrived)
}

// wait returns a channel closed once n SMS were accepted.
func (c *smsCounter) wait(n int) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan struct{})
	if len(c.arrived) >= n {
		close(ch)
		return ch
	}
	c.waiters = append(c.waiters, smsWaiter{n: n, ch: ch})
	return ch
}

// times is when each accepted SMS arrived, in order of acceptance.
func (c *smsCounter) times() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.arrived...)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}
