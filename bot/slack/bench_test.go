package slack

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/storetest"
)

// benchServer is muster's Slack routes on a real HTTP listener, over the
// test Redis (MUSTER_TEST_REDIS_URL, else the embedded server), with the
// wall clock. Fan-out stays queued in the outbox (no deliverer runs), so
// what is measured is the path to the HTTP answer.
type benchServer struct {
	url    string
	client *http.Client
	rt     *storetest.RoundTrips
	seq    atomic.Int64
}

func newBenchServer(b *testing.B) *benchServer {
	b.Helper()
	cfg, err := configs.Example()
	if err != nil {
		b.Fatal(err)
	}
	st := storetest.Open(b, nil)
	rt := storetest.CountRoundTrips(st)
	svc := commands.New(commands.Options{Config: cfg, Store: st})
	a, err := New(Options{Service: svc, Store: st, Config: cfg, BotToken: testBotToken, SigningSecret: testSecret, APIURL: "http://127.0.0.1:1/api/"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(a.Close)
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	b.Cleanup(srv.Close)
	tr := &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
	b.Cleanup(tr.CloseIdleConnections)
	return &benchServer{url: srv.URL, client: &http.Client{Transport: tr, Timeout: 10 * time.Second}, rt: rt}
}

// do sends one signed slash command and returns the time to the answer.
func (s *benchServer) do(command, text string) (time.Duration, error) {
	body := url.Values{
		"team_id": {"T0FAKE0001"}, "channel_id": {"C0HARBOUR"}, "user_id": {"U0FARID"},
		"command": {command}, "text": {text}, "response_url": {"http://127.0.0.1:1/response/x"},
		// Like Slack's, every request is unique: the adapter refuses a
		// replayed one.
		"trigger_id": {strconv.FormatInt(s.seq.Add(1), 10)},
	}.Encode()
	ts := time.Now().Unix()
	req, err := http.NewRequest(http.MethodPost, s.url+"/slack/commands", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Slack-Signature", Sign(testSecret, ts, []byte(body)))
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	took := time.Since(start)
	if resp.StatusCode != http.StatusOK {
		return took, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return took, nil
}

// percentile of sorted durations, p in [0, 1].
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

func reportLatencies(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(percentile(lat, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(lat, 0.99)), "p99-ms")
	b.ReportMetric(ms(percentile(lat, 0.999)), "p99.9-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
}

// benchCommands are the slash commands measured one by one.
var benchCommands = []struct{ name, command, text string }{
	{"Raise", "/incident", "raise intrusion sev2 @harbour fence cut near gate B"},
	{"List", "/incident", "list"},
	{"Roster", "/roster", "@harbour"},
	{"Whoami", "/muster", "whoami"},
}

// BenchmarkSlackCommand sends signed slash commands one after the other
// and reports the time to the HTTP answer (p50, p99, p99.9, max) and Redis
// round trips per command.
func BenchmarkSlackCommand(b *testing.B) {
	for _, bc := range benchCommands {
		b.Run(bc.name, func(b *testing.B) {
			s := newBenchServer(b)
			lat := make([]time.Duration, 0, b.N)
			before := s.rt.Load()
			b.ResetTimer()
			for range b.N {
				d, err := s.do(bc.command, bc.text)
				if err != nil {
					b.Fatal(err)
				}
				lat = append(lat, d)
			}
			b.StopTimer()
			b.ReportMetric(float64(s.rt.Load()-before)/float64(b.N), "redis-rt/op")
			reportLatencies(b, lat)
		})
	}
}

// BenchmarkSlackCommandLoad200 is a bounded open-loop load: signed slash
// commands at 200 per second (a mix: one raise, one list, one roster, one
// whoami in turn) for MUSTER_SLACK_LOAD_SECONDS (default 5) seconds,
// against the test Redis. Latency is measured from each request's
// scheduled send time, so a stall is not hidden by sending less. It runs
// once whatever b.N is; use -benchtime=1x.
func BenchmarkSlackCommandLoad200(b *testing.B) {
	secs := 5
	if v, err := strconv.Atoi(os.Getenv("MUSTER_SLACK_LOAD_SECONDS")); err == nil && v > 0 && v <= 600 {
		secs = v
	}
	const rate = 200
	const maxInFlight = 400
	s := newBenchServer(b)
	total := secs * rate
	lat := make([]time.Duration, total)  // from the scheduled send time
	sent := make([]time.Duration, total) // from the actual send: without the load generator's lag
	var (
		wg       sync.WaitGroup
		failures atomic.Int64
		dropped  atomic.Int64
		inFlight = make(chan struct{}, maxInFlight)
	)
	before := s.rt.Load()
	start := time.Now()
	b.ResetTimer()
	for i := range total {
		due := start.Add(time.Duration(i) * time.Second / rate)
		if wait := time.Until(due); wait > 0 {
			t := time.NewTimer(wait)
			<-t.C
		}
		select {
		case inFlight <- struct{}{}:
		default:
			dropped.Add(1)
			lat[i] = time.Since(due)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-inFlight }()
			bc := benchCommands[i%len(benchCommands)]
			d, err := s.do(bc.command, bc.text)
			if err != nil {
				failures.Add(1)
			}
			lat[i], sent[i] = time.Since(due), d
		}()
	}
	wg.Wait()
	b.StopTimer()
	elapsed := time.Since(start)
	over3s := 0
	for _, d := range lat {
		if d > 3*time.Second {
			over3s++
		}
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(s.rt.Load()-before)/float64(total), "redis-rt/op")
	b.ReportMetric(float64(failures.Load()), "failed")
	b.ReportMetric(float64(dropped.Load()), "dropped")
	b.ReportMetric(float64(over3s), "over-3s")
	reportLatencies(b, lat)
	slices.Sort(sent)
	b.ReportMetric(float64(percentile(sent, 0.99))/float64(time.Millisecond), "sent-p99-ms")
	if failures.Load() > 0 {
		b.Errorf("%d of %d requests failed", failures.Load(), total)
	}
}
