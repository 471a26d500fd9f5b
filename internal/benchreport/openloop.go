package benchreport

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// LoadResult is one open-loop run of signed slash commands.
type LoadResult struct {
	// Rate is the rate asked for, For how long it ran.
	Rate float64
	For  time.Duration
	// Sent counts the commands sent; Failed those without an HTTP 200 and
	// a JSON answer; Shed those muster answered "not recorded, try again"
	// (overload shedding); Dropped those not sent because MaxInFlight were
	// already waiting.
	Sent, Failed, Shed, Dropped int
	// Achieved is the rate the commands were sent at.
	Achieved float64
	// P50...Max are the answer times from each command's scheduled send
	// time (so a stall of the load generator or of muster is not hidden
	// by sending less); SentP99 is from the actual send.
	P50, P99, P999, Max, SentP99 time.Duration
	// Triggers, Acks count the plans triggered and tasks acknowledged.
	Triggers, Acks int
	// Steps counts the escalation steps muster recorded while it ran;
	// Sends the messages it sent (message.sent events).
	Steps, Sends int
	// Redis is Redis's work over the run.
	Redis RedisUse
	// Examples are the first few failures.
	Examples []string
	Err      error
}

// MaxInFlight bounds the commands waiting for their answer at once.
const MaxInFlight = 2000

// mixCommand is one command of the load's mix.
type mixCommand struct {
	user, channel, command, text string
	// kind names it for the results ("trigger", "ack").
	kind string
}

var allTasks = regexp.MustCompile(`\bT-\d+\b`)

// commandMix is the load's mix, cycling through 40 commands: reads
// (lists, rosters, status, whoami, help), writes (an incident raised,
// updated and resolved), one plan trigger and four acknowledgements of
// the tasks the triggers made, whose escalations (chat, SMS, voice) run
// meanwhile. Acks are sent by the coordinator (who may answer any task
// with a note) for the oldest task triggered and not yet acknowledged.
type commandMix struct {
	// mu guards the fields that follow.
	mu    sync.Mutex
	tasks []string // triggered, not yet acknowledged, oldest first
	incs  []string
}

var incidentRef = regexp.MustCompile(`\bINC-\d+\b`)

func (m *commandMix) next(i int) mixCommand {
	sites := [2][2]string{{"harbour", "C0HARBOUR"}, {"depot", "C0DEPOT"}}
	site, ch := sites[(i/40)%2][0], sites[(i/40)%2][1]
	f := func(user, command, text string) mixCommand {
		return mixCommand{user: user, channel: ch, command: command, text: text}
	}
	switch i % 40 {
	case 0, 20:
		return mixCommand{user: "U0FARID", channel: ch, command: "/incident", kind: "raise",
			text: fmt.Sprintf("raise intrusion sev3 @%s load %d: fence panel loose", site, i)}
	case 10:
		return mixCommand{user: "U0FARID", channel: ch, command: "/plan", kind: "trigger",
			text: fmt.Sprintf("trigger fire-evacuation @%s load %d", site, i)}
	case 5, 15, 25, 35:
		m.mu.Lock()
		t := ""
		if len(m.tasks) > 0 {
			t, m.tasks = m.tasks[0], m.tasks[1:]
		}
		m.mu.Unlock()
		if t == "" {
			return f("U0JONAH", "/ack", "")
		}
		return mixCommand{user: "U0JONAH", channel: ch, command: "/ack", text: t + " load: on it", kind: "ack"}
	case 30:
		m.mu.Lock()
		inc := ""
		if len(m.incs) > 0 {
			inc, m.incs = m.incs[0], m.incs[1:]
		}
		m.mu.Unlock()
		if inc != "" {
			return f("U0FARID", "/incident", "resolve "+inc+" load: panel refitted")
		}
		return f("U0FARID", "/incident", "list")
	case 1, 21, 31:
		return f("U0FARID", "/incident", "list")
	case 2, 12, 22, 32:
		return f("U0FARID", "/roster", "@"+site)
	case 3, 13, 23, 33:
		return f("U0AMARA", "/muster", "whoami")
	case 4, 24:
		return f("U0FARID", "/plan", "status")
	case 6, 16, 26, 36:
		return f("U0BEN", "/muster", "status")
	case 7, 27:
		return f("U0FARID", "/incident", "list open @"+site)
	case 8, 28:
		return f("U0FARID", "/plan", "list")
	case 9, 29:
		return f("U0FARID", "/roster", "@"+site+" next")
	case 11, 37:
		return f("U0FARID", "/plan", "show fire-evacuation")
	case 14, 34:
		return f("U0CHLOE", "/muster", "help")
	case 17, 38:
		return f("U0FARID", "/plan", "dryrun fire-evacuation @"+site)
	case 18:
		return f("U0FARID", "/roster", "@"+site+" week")
	}
	return f("U0DEV", "/muster", "whoami")
}

// answered reads refs out of an answer: a trigger's tasks join the ack
// queue, a raised incident the resolve queue.
func (m *commandMix) answered(c mixCommand, answer string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch c.kind {
	case "trigger":
		m.tasks = append(m.tasks, allTasks.FindAllString(answer, -1)...)
	case "raise":
		if inc := incidentRef.FindString(answer); inc != "" {
			m.incs = append(m.incs, inc)
		}
	}
}

// shedText is how muster answers a command it could not record because
// Redis is overloaded.
const shedText = "not recorded"

// OpenLoop sends the command mix at rate for d, each command at its
// scheduled time whatever the answers before it (an open loop), and
// measures each answer from its scheduled time.
func OpenLoop(ctx context.Context, c *SlackClient, rate float64, d time.Duration) LoadResult {
	res := LoadResult{Rate: rate, For: d}
	mix := &commandMix{}
	var (
		mu       sync.Mutex // guards res's counters, lat and sentLat
		lat      []time.Duration
		sentLat  []time.Duration
		inFlight atomic.Int64
		wg       sync.WaitGroup
	)
	if c.HTTP == nil {
		c.HTTP = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			MaxIdleConns: MaxInFlight, MaxIdleConnsPerHost: MaxInFlight, IdleConnTimeout: time.Minute}}
	}
	note := func(s string) {
		if len(res.Examples) < 5 {
			res.Examples = append(res.Examples, s)
		}
	}
	n, elapsed := openLoopSchedule(ctx, rate, d, func(i int, due time.Time) {
		if inFlight.Load() >= MaxInFlight {
			mu.Lock()
			res.Dropped++
			mu.Unlock()
			return
		}
		cmd := mix.next(i)
		inFlight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer inFlight.Add(-1)
			sent := time.Now()
			answer, _, err := c.Command(ctx, cmd.user, cmd.channel, cmd.command, cmd.text)
			done := time.Now()
			mu.Lock()
			defer mu.Unlock()
			res.Sent++
			lat = append(lat, done.Sub(due))
			sentLat = append(sentLat, done.Sub(sent))
			switch {
			case err != nil:
				res.Failed++
				note(err.Error())
				return
			case strings.Contains(answer, shedText):
				res.Shed++
				return
			}
			switch cmd.kind {
			case "trigger":
				res.Triggers++
			case "ack":
				if strings.Contains(answer, "acknowledged") {
					res.Acks++
				}
			}
			mix.answered(cmd, answer)
		}()
	})
	wg.Wait()
	res.Achieved = float64(n-res.Dropped) / elapsed.Seconds()
	slices.Sort(lat)
	slices.Sort(sentLat)
	if k := len(lat); k > 0 {
		res.P50, res.P99, res.P999, res.Max = lat[k/2], lat[k*99/100], lat[min(k-1, k*999/1000)], lat[k-1]
		res.SentP99 = sentLat[k*99/100]
	}
	return res
}

// openLoopSchedule calls send for each send time of an open loop at rate
// for d, starting 50 ms from now: each at its time, whatever the sends
// before it are doing (send starts a request and returns; it does not
// wait for the answer). It returns how many times it called send and
// how long the sending took.
func openLoopSchedule(ctx context.Context, rate float64, d time.Duration, send func(i int, due time.Time)) (n int, elapsed time.Duration) {
	start := time.Now().Add(50 * time.Millisecond)
	end := start.Add(d)
	for i := 0; ; i++ {
		due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		if !due.Before(end) || ctx.Err() != nil {
			break
		}
		if wait := time.Until(due); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
		send(i, due)
		n++
	}
	return n, time.Since(start)
}

// Met says whether a load run met the command goal: p99 within goal,
// nothing failed, shed or dropped, and the rate sent within 5% of the
// rate asked.
func (r LoadResult) Met(goal time.Duration) bool {
	return r.Err == nil && r.Sent > 0 && r.P99 <= goal && r.Failed == 0 && r.Shed == 0 && r.Dropped == 0 &&
		r.Achieved >= r.Rate*0.95
}
