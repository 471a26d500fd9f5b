package fakewait

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestFirstWakesOnChange(t *testing.T) {
	var (
		c    Changes
		mu   sync.Mutex
		recs []int
	)
	list := func() []int { mu.Lock(); defer mu.Unlock(); return append([]int(nil), recs...) }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan int, 1)
	go func() {
		v, err := First(ctx, &c, "fake", list, func(x int) bool { return x > 1 })
		if err != nil {
			t.Error(err)
		}
		got <- v
	}()
	for _, v := range []int{1, 2, 3} {
		mu.Lock()
		recs = append(recs, v)
		mu.Unlock()
		c.Notify()
	}
	if v := <-got; v != 2 {
		t.Fatalf("First = %d, want the first match, 2", v)
	}
}

func TestUntilEndsWithTheContext(t *testing.T) {
	var c Changes
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := c.Until(ctx, "fakeslack", func() bool { return false })
	if !errors.Is(err, context.Canceled) || err.Error() != "fakeslack: condition not met: context canceled" {
		t.Fatalf("Until = %v", err)
	}
}
