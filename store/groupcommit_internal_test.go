package store

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Items committed while a batch is being recorded wait for the next
// batch, together: a hundred callers cost two batches, and each gets its
// own result.
func TestGroupCommitBatchesConcurrentCallers(t *testing.T) {
	first := make(chan struct{})
	release := make(chan struct{})
	var mu sync.Mutex
	var batches []int
	g := &groupCommit[int]{max: 256, gather: time.Millisecond, record: func(_ context.Context, b []*committing[int]) {
		mu.Lock()
		batches = append(batches, len(b))
		n := len(batches)
		mu.Unlock()
		if n == 1 {
			close(first)
			<-release // the others queue meanwhile
		}
		for _, c := range b {
			c.v *= 10
		}
	}}
	ctx := context.Background()
	results := make(chan int, 101)
	go func() { v, _ := g.commit(ctx, 0); results <- v }()
	<-first
	var wg sync.WaitGroup
	for i := 1; i <= 100; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); v, _ := g.commit(ctx, i); results <- v }()
	}
	waitQueued := time.After(10 * time.Second)
	for {
		g.mu.Lock()
		n := len(g.queue)
		g.mu.Unlock()
		if n == 100 {
			break
		}
		select {
		case <-waitQueued:
			t.Fatalf("%d of 100 queued", n)
		case <-time.After(time.Millisecond):
		}
	}
	close(release)
	wg.Wait()
	sum := 0
	for range 101 {
		sum += <-results
	}
	if want := 10 * 100 * 101 / 2; sum != want {
		t.Errorf("results sum to %d, want %d (each item its own result)", sum, want)
	}
	if len(batches) != 2 || batches[1] != 100 {
		t.Errorf("batches %v, want [1 100]", batches)
	}
}

// One caller committing item after item never waits for a gather, even
// right after a busy spell: with an hour's gather each commit still
// returns at once.
func TestGroupCommitSequentialCallerDoesNotWait(t *testing.T) {
	g := &groupCommit[int]{max: 256, gather: time.Hour, record: func(context.Context, []*committing[int]) {}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 50 {
		if _, err := g.commit(ctx, i); err != nil {
			t.Fatalf("commit %d: %v (waited for a gather)", i, err)
		}
	}
}

// A caller whose context ends first gets an error, not a result the
// recorder may still be writing; its item is recorded all the same.
func TestGroupCommitCallerGivesUpItemStillRecorded(t *testing.T) {
	release := make(chan struct{})
	recorded := make(chan int, 1)
	g := &groupCommit[*int]{max: 256, gather: time.Millisecond, record: func(_ context.Context, b []*committing[*int]) {
		<-release
		for _, c := range b {
			*c.v = 7
			recorded <- *c.v
		}
	}}
	ctx, cancel := context.WithCancel(context.Background())
	v := new(int)
	done := make(chan struct{})
	var got *int
	var err error
	go func() { defer close(done); got, err = g.commit(ctx, v) }()
	cancel()
	<-done
	if err == nil || got != nil {
		t.Errorf("commit after its context ended: %v, %v; want no result and an error", got, err)
	}
	close(release)
	select {
	case n := <-recorded:
		if n != 7 {
			t.Errorf("recorded %d", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the item was never recorded")
	}
}
