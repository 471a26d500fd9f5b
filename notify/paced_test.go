package notify_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/muster-ops/muster/notify"
)

// Direct sends (degraded mode) keep to the channel's rate: ten SMS sent
// at once at 20 a second go out at least 50 ms apart; chat is not paced.
func TestPacedKeepsTheRate(t *testing.T) {
	var (
		mu  sync.Mutex
		got = map[string][]time.Time{}
	)
	out := notify.NotifierFunc(func(_ context.Context, m notify.Message) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		got[m.Channel] = append(got[m.Channel], time.Now())
		return false, nil
	})
	p := notify.NewPaced(out, map[string]notify.Pacing{notify.SMS: {Sender: "+15550001", Rate: 20}})
	var wg sync.WaitGroup
	for range 10 {
		for _, ch := range []string{notify.SMS, notify.Chat} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := p.Notify(context.Background(), notify.Message{Channel: ch, To: "amara", Text: "x"}); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	sms, chat := got[notify.SMS], got[notify.Chat]
	if len(sms) != 10 || len(chat) != 10 {
		t.Fatalf("sent %d SMS and %d chat, want 10 each", len(sms), len(chat))
	}
	for i := 1; i < len(sms); i++ {
		// Timers fire late, never early; 2 ms covers the clock's grain.
		if gap := sms[i].Sub(sms[i-1]); gap < 48*time.Millisecond {
			t.Fatalf("SMS %d went %v after the one before, want at least 50ms (20 a second)", i, gap)
		}
	}
	if span := chat[len(chat)-1].Sub(chat[0]); span > 40*time.Millisecond {
		t.Errorf("chat took %v: it is not paced", span)
	}
}

// A message whose context ends while it waits is not sent.
func TestPacedGivesUpWithItsContext(t *testing.T) {
	sent := 0
	out := notify.NotifierFunc(func(context.Context, notify.Message) (bool, error) { sent++; return false, nil })
	p := notify.NewPaced(out, map[string]notify.Pacing{notify.SMS: {Rate: 0.01}})
	if _, err := p.Notify(context.Background(), notify.Message{Channel: notify.SMS}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if retry, err := p.Notify(ctx, notify.Message{Channel: notify.SMS}); err == nil || retry || sent != 1 {
		t.Fatalf("second SMS 100 s early: retry %v, err %v, sent %d; want not sent", retry, err, sent)
	}
}
