package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/store"
)

// BenchmarkStartRollCall10k is the start script of a roll call of 10,000
// on duty (lua/rollcall_start.lua): the questions, their timers, their
// first messages (chat and SMS each) and audit events in one script, the
// part of `/rollcall start` that blocks Redis.
func BenchmarkStartRollCall10k(b *testing.B) {
	ctx := context.Background()
	s := storetest.Open(b, nil)
	people := make([]store.RollCallMember, 10000)
	for i := range people {
		people[i] = store.RollCallMember{Person: fmt.Sprintf("r%05d", i), Site: "harbour"}
	}
	ask := &store.RollCallAsk{Channels: []string{"chat", "sms"}, Wait: 2 * time.Minute, Texts: map[string]map[string]string{"harbour": {
		"chat": "Roll call " + store.IDPlaceholder + " at Harbour Point HQ: are you safe? Answer with the buttons.",
		"sms":  "Roll call " + store.IDPlaceholder + " Harbour Point HQ: are you safe? Reply SAFE or HELP"}}}
	for b.Loop() {
		if _, _, err := s.StartRollCall(ctx, store.NewRollCall{Sites: []string{"harbour"}, By: "farid", People: people, Ask: ask}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAnswerRollCall is one SAFE (lua/rollcall_answer.lua) in a roll
// call of b.N people, with nothing else running: the floor under the
// answer-to-record time.
func BenchmarkAnswerRollCall(b *testing.B) {
	ctx := context.Background()
	s := storetest.Open(b, nil)
	n := max(b.N, 1)
	people := make([]store.RollCallMember, n)
	for i := range people {
		people[i] = store.RollCallMember{Person: fmt.Sprintf("r%07d", i), Site: "harbour"}
	}
	num, _, err := s.StartRollCall(ctx, store.NewRollCall{Sites: []string{"harbour"}, By: "farid", People: people})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.AnswerRollCall(ctx, store.RollCallAnswer{Num: num, Person: people[i].Person, Answer: store.AnswerSafe, Channel: "sms"}); err != nil {
			b.Fatal(err)
		}
	}
}
