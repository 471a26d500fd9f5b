package commands

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// TestAdmitShedsAtOnceBehindAFullQueue: with every slot busy and
// queueDepth commands per slot already waiting, the next command is shed
// at once rather than parked for the whole admission wait; once a slot
// frees, a waiting command gets it.
func TestAdmitShedsAtOnceBehindAFullQueue(t *testing.T) {
	s := &Service{slots: make(chan struct{}, 1), admitWait: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if !s.admit(ctx) {
		t.Fatal("the first command was not admitted to a free slot")
	}
	waiters := queueDepth * cap(s.slots)
	admitted := make(chan bool, waiters)
	for range waiters {
		go func() { admitted <- s.admit(ctx) }()
	}
	for s.waiting.Load() < int64(waiters) {
		runtime.Gosched() // until every waiter is counted
	}
	shed := make(chan bool, 1)
	go func() { shed <- s.admit(ctx) }()
	select {
	case ok := <-shed:
		if ok {
			t.Fatal("a command behind a full queue was admitted")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a command behind a full queue waited instead of being shed at once")
	}
	<-s.slots // the running command ends
	if !<-admitted {
		t.Fatal("a waiting command did not get the slot that freed")
	}
	cancel() // the others give up waiting
	for range waiters - 1 {
		if <-admitted {
			t.Fatal("a waiter was admitted with no slot free")
		}
	}
	if n := s.waiting.Load(); n != 0 {
		t.Fatalf("%d still counted as waiting", n)
	}
}
