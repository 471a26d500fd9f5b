package scenario_test

import (
	"math"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/faketwilio"
	"github.com/muster-ops/muster/internal/scenario"
	"github.com/muster-ops/muster/internal/storetest"
)

// calloutSize is the call-out of issue 4: 1,000 responders, a fake
// Twilio that answers each request in 50 ms.
const (
	calloutSize    = 1000
	calloutLatency = 50 * time.Millisecond
)

// BenchmarkCalloutUnpaced triggers a 1,000-responder call-out with pacing
// off and reports the time from the command's reply to the first request
// reaching Twilio (goal <= 1s) and to the last SMS accepted (goal <= 2s).
func BenchmarkCalloutUnpaced(b *testing.B) {
	needRedis(b)
	cfg := scenario.CalloutConfig(b, calloutSize)
	var first, total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c := scenario.NewCallout(b, cfg, calloutLatency, 0)
		b.StartTimer()
		replied := c.Trigger()
		msgs := c.WaitMessages(calloutSize, 60*time.Second)
		b.StopTimer()
		first += c.FirstRequest().Sub(replied)
		total += lastReceived(msgs).Sub(replied)
		c.Stop()
	}
	b.ReportMetric(first.Seconds()/float64(b.N), "s-to-first-send")
	b.ReportMetric(total.Seconds()/float64(b.N), "s-to-last-send")
}

// BenchmarkCalloutPaced10 and BenchmarkCalloutPaced100 queue the same
// call-out with pacing at 10 and 100 SMS per second and report the rate
// achieved over a sample of the messages sent once the whole call-out is
// queued, and how far it is from the setting (goal <= 5%). The sample is
// 200 messages at 10/s (20 s: a whole 1,000 would take 100 s an
// iteration) and 500 at 100/s (5 s: the default burst of 100 ms of
// sending weighs at most 2% of it). Measuring from the queued state keeps
// the engine's own speed out of the outbox's pace; the times are the
// requests' arrival at the fake.
func BenchmarkCalloutPaced10(b *testing.B)  { benchPaced(b, 10) }
func BenchmarkCalloutPaced100(b *testing.B) { benchPaced(b, 100) }

func benchPaced(b *testing.B, rate float64) {
	needRedis(b)
	sample := max(200, int(rate*5))
	cfg := scenario.CalloutConfig(b, calloutSize)
	var achieved float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c := scenario.NewCallout(b, cfg, calloutLatency, rate)
		b.StartTimer()
		c.Trigger()
		achieved += c.RateOnceQueued(sample, time.Duration(float64(sample)/rate*1.5*float64(time.Second))+30*time.Second)
		b.StopTimer()
		c.Stop()
	}
	achieved /= float64(b.N)
	b.ReportMetric(achieved, "sms/s")
	b.ReportMetric(100*math.Abs(achieved-rate)/rate, "%-off-setting")
}

func lastReceived(msgs []faketwilio.Message) time.Time {
	last := msgs[0].Received
	for _, m := range msgs {
		if m.Received.After(last) {
			last = m.Received
		}
	}
	return last
}

// needRedis skips on the embedded server: it runs Lua in gopher-lua, where
// the audit chain's SHA-256 (store/lua/prelude.lua) makes every
// escalation step take tens of milliseconds, so the figures would measure
// that instead of the call-out.
func needRedis(b *testing.B) {
	if storetest.URL() == "" {
		b.Skip("set MUSTER_TEST_REDIS_URL: the embedded server is too slow for call-out figures")
	}
}
