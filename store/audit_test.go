package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/muster-ops/muster/store"
	"github.com/muster-ops/muster/store/storetest"
)

// backends opens a store on the embedded server and, when
// MUSTER_TEST_REDIS_URL is set, one on the real Redis too: the script-side
// SHA-256 takes a different path on each (arithmetic, LuaBitOp).
func backends(t *testing.T, now func() time.Time) map[string]*store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	emb, err := store.Open(ctx, store.Options{Namespace: storetest.Namespace(), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emb.Close() })
	out := map[string]*store.Store{"embedded": emb}
	if storetest.URL() != "" {
		out["redis"] = storetest.Open(t, now)
	} else {
		t.Logf("%s not set: checking the embedded server only", storetest.EnvURL)
	}
	return out
}

func shaInputs() []string {
	in := []string{"", "abc", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		"Fence cut near gate B — «ünïcode» 火事 🚒", "\x00\x01\x1f\"\\\x7f\xff\x80",
		strings.Repeat("a", 1000)}
	for _, n := range []int{55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 300} {
		in = append(in, strings.Repeat("x", n))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 40; i++ {
		b := make([]byte, r.IntN(400))
		for j := range b {
			b[j] = byte(r.IntN(256))
		}
		in = append(in, string(b))
	}
	return in
}

// TestLuaSHA256MatchesCryptoSHA256 checks every way the scripts compute
// SHA-256 (LuaBitOp on a real Redis, the native command and the pure
// arithmetic on the embedded server) against crypto/sha256, on inputs of
// 0 to 1000 bytes (padding edges 55/56/64, several blocks), UTF-8 and
// every byte value.
func TestLuaSHA256MatchesCryptoSHA256(t *testing.T) {
	ctx := context.Background()
	bs := backends(t, nil)
	cases := []struct{ backend, force, want string }{
		{"embedded", "arithmetic", "arithmetic"},
		{"embedded", "native", "native"},
		{"embedded", "", "native"}, // picked by audit() once registered
		{"redis", "", "bit"},
		{"redis", "arithmetic", "arithmetic"},
	}
	if err := bs["embedded"].RegisterEmbeddedSHA256(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		s, ok := bs[tc.backend]
		if !ok {
			continue
		}
		t.Run(tc.backend+"/"+tc.want, func(t *testing.T) {
			inputs := shaInputs()
			if tc.want == "arithmetic" && raceEnabled {
				// gopher-lua under the race detector runs the arithmetic
				// at some 0.4 s per 250 bytes: check the edges only.
				inputs = inputs[:12]
			}
			for _, in := range inputs {
				got, mode, err := s.LuaSHA256(ctx, in, tc.force)
				if err != nil {
					t.Fatal(err)
				}
				if mode != tc.want {
					t.Fatalf("mode = %s, want %s", mode, tc.want)
				}
				sum := sha256.Sum256([]byte(in))
				if want := hex.EncodeToString(sum[:]); got != want {
					t.Fatalf("lua sha256 (%s) of %d bytes %q = %s, want %s", mode, len(in), clipQ(in), got, want)
				}
			}
		})
	}
}

func clipQ(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// chainStore opens a store (real Redis when configured) with the native
// SHA-256 on the embedded server, and a clock the test moves.
func chainStore(t *testing.T) (*store.Store, *time.Time) {
	t.Helper()
	clock := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	s := storetest.Open(t, func() time.Time { return clock })
	if err := s.RegisterEmbeddedSHA256(); err != nil {
		t.Fatal(err)
	}
	return s, &clock
}

// someHistory writes a few transitions of every kind the store has.
func someHistory(t *testing.T, s *store.Store, clock *time.Time) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		inc, err := s.RaiseIncident(ctx, store.NewIncident{Site: "harbour", Category: "intrusion", Severity: "sev2", Reporter: "amara",
			Text: "Fence cut near gate B — «ünïcode» \"quoted\" \\ back\tslash"})
		if err != nil {
			t.Fatal(err)
		}
		*clock = clock.Add(time.Minute)
		if _, err := s.ChangeIncident(ctx, inc.Num, "farid", store.ActionAcknowledge, ""); err != nil {
			t.Fatal(err)
		}
		*clock = clock.Add(time.Minute)
		if _, err := s.ChangeIncident(ctx, inc.Num, "farid", store.ActionResolve, "Fence repaired"); err != nil {
			t.Fatal(err)
		}
	}
	a, tasks, err := s.TriggerPlan(ctx, store.NewActivation{Plan: "fire-evacuation", PlanName: "Fire evacuation", PlanVersion: 3, Site: "harbour", By: "jonah",
		Tasks: []store.NewTask{{Title: "Sweep", Role: "guard", Policy: "critical", Assignee: "ben"}, {Title: "Roll call", Role: "supervisor", Policy: "standard", Assignee: "farid"}}})
	if err != nil {
		t.Fatal(err)
	}
	*clock = clock.Add(30 * time.Second)
	if _, err := s.AckTask(ctx, tasks[0].Num, "ben", store.TaskActionAck, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CloseActivation(ctx, a.Num, "jonah", "all clear", "plan.stood_down"); err != nil {
		t.Fatal(err)
	}
	if err := s.AuditConfigLoaded(ctx, "configs/example.yaml", strings.Repeat("ab", 32)); err != nil {
		t.Fatal(err)
	}
}

func verify(t *testing.T, s *store.Store) *store.AuditVerification {
	t.Helper()
	v, err := s.VerifyAudit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAuditChainVerifiesUntouched(t *testing.T) {
	s, clock := chainStore(t)
	if v := verify(t, s); !v.OK() || v.Events != 0 {
		t.Fatalf("empty log: %+v %v", v, v.Problem)
	}
	someHistory(t, s, clock)
	v := verify(t, s)
	if !v.OK() {
		t.Fatalf("untouched chain reported: %s", v.Problem)
	}
	// 3 x (raised, acknowledge, resolve) + 2 task.assigned + plan.triggered
	// + task.ack + plan.stood_down + config.loaded = 15.
	if v.Events != 15 || v.FirstSeq != 1 || v.LastSeq != 15 {
		t.Fatalf("verified %d events (seq %d..%d), want 15 (1..15)", v.Events, v.FirstSeq, v.LastSeq)
	}
	head, err := s.AuditHead(context.Background())
	if err != nil || head.Seq != 15 || head.Hash != v.Head {
		t.Fatalf("head = %+v, %v; verification head %s", head, err, v.Head)
	}
	// Every stored event hashes to what Go computes from its fields.
	evs, err := s.AuditEvents(context.Background(), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	prev := store.AuditGenesis
	for i, e := range evs {
		if e.Seq != int64(i+1) || e.Prev != prev || e.Hash != e.ComputeHash() {
			t.Fatalf("event %d: seq %d prev %s hash %s, computed %s\n%s", i, e.Seq, e.Prev, e.Hash, e.ComputeHash(), e.Canonical())
		}
		prev = e.Hash
	}
}

// rewriteAudit rebuilds the audit stream through edit, as someone with
// write access to Redis would: stream entries cannot be edited in place,
// so the stream is read, deleted and written back entry by entry (with
// fresh ids, 1-1, 1-2, ..., so an entry can be put anywhere).
func rewriteAudit(t *testing.T, s *store.Store, edit func([]redis.XMessage) []redis.XMessage) {
	t.Helper()
	ctx := context.Background()
	key := s.Key("audit")
	msgs, err := s.Client().XRange(ctx, key, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	msgs = edit(msgs)
	if err := s.Client().Del(ctx, key).Err(); err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		var vals []any
		for _, f := range []string{"seq", "at", "kind", "actor", "subject", "data", "prev", "hash"} {
			if v, ok := m.Values[f]; ok {
				vals = append(vals, f, v)
			}
		}
		if err := s.Client().XAdd(ctx, &redis.XAddArgs{Stream: key, ID: fmt.Sprintf("1-%d", i+1), Values: vals}).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAuditVerifyNamesTampering(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func([]redis.XMessage) []redis.XMessage
		want string // the problem's text must contain this
		kind string
		seq  int64
	}{
		{"changed field", func(m []redis.XMessage) []redis.XMessage {
			m[4].Values["actor"] = "ben" // seq 5: INC-2 acknowledged by farid, now "ben"
			return m
		}, "event seq 5 (stream id 1-5, incident.acknowledge INC-2) was changed", store.TamperChanged, 5},
		{"changed data", func(m []redis.XMessage) []redis.XMessage {
			m[0].Values["data"] = strings.Replace(m[0].Values["data"].(string), "sev2", "sev4", 1)
			return m
		}, "event seq 1 (stream id 1-1, incident.raised INC-1) was changed", store.TamperChanged, 1},
		{"changed and rehashed", func(m []redis.XMessage) []redis.XMessage {
			// Whoever changes an event and recomputes its hash still breaks
			// the next event's link.
			e := m[6].Values
			e["actor"] = "grace"
			ev := store.AuditEvent{SeqRaw: e["seq"].(string), AtMS: e["at"].(string), Kind: e["kind"].(string), Actor: "grace",
				Subject: e["subject"].(string), Data: e["data"].(string), Prev: e["prev"].(string)}
			e["hash"] = ev.ComputeHash()
			return m
		}, "event seq 7 (stream id 1-7, incident.raised INC-3) was changed: seq 8 recorded its hash", store.TamperChanged, 7},
		{"removed", func(m []redis.XMessage) []redis.XMessage {
			return append(m[:8:8], m[9:]...) // seq 9
		}, "event seq 9 was removed", store.TamperRemoved, 9},
		{"removed last", func(m []redis.XMessage) []redis.XMessage {
			return m[:len(m)-1]
		}, "event seq 15 was removed", store.TamperRemoved, 15},
		{"removed first", func(m []redis.XMessage) []redis.XMessage {
			return m[1:]
		}, "event seq 1 was removed", store.TamperRemoved, 1},
		{"inserted", func(m []redis.XMessage) []redis.XMessage {
			fake := redis.XMessage{Values: map[string]any{"seq": "11", "at": m[10].Values["at"], "kind": "task.ack", "actor": "ben",
				"subject": "T-2", "data": "{}", "prev": m[9].Values["hash"], "hash": strings.Repeat("0", 64)}}
			return append(m[:10:10], append([]redis.XMessage{fake}, m[10:]...)...)
		}, "event seq 11 (stream id 1-11, task.ack T-2) was inserted", store.TamperInserted, 11},
		{"inserted with a valid hash", func(m []redis.XMessage) []redis.XMessage {
			// A forger who computes a correct hash for the new event still
			// leaves the real seq 11 linked to seq 10.
			ev := store.AuditEvent{SeqRaw: "11", AtMS: m[10].Values["at"].(string), Kind: "task.ack", Actor: "ben", Subject: "T-2",
				Data: "{}", Prev: m[9].Values["hash"].(string)}
			fake := redis.XMessage{Values: map[string]any{"seq": "11", "at": ev.AtMS, "kind": ev.Kind, "actor": ev.Actor,
				"subject": ev.Subject, "data": ev.Data, "prev": ev.Prev, "hash": ev.ComputeHash()}}
			return append(m[:10:10], append([]redis.XMessage{fake}, m[10:]...)...)
		}, "event seq 11 (stream id 1-11, task.ack T-2) was inserted", store.TamperInserted, 11},
		{"appended without head", func(m []redis.XMessage) []redis.XMessage {
			last := m[len(m)-1].Values
			ev := store.AuditEvent{SeqRaw: "16", AtMS: last["at"].(string), Kind: "incident.resolve", Actor: "hugo", Subject: "INC-9",
				Data: "{}", Prev: last["hash"].(string)}
			return append(m, redis.XMessage{Values: map[string]any{"seq": "16", "at": ev.AtMS, "kind": ev.Kind, "actor": ev.Actor,
				"subject": ev.Subject, "data": ev.Data, "prev": ev.Prev, "hash": ev.ComputeHash()}})
		}, "event seq 16 (stream id 1-16, incident.resolve INC-9) was inserted", store.TamperInserted, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, clock := chainStore(t)
			someHistory(t, s, clock)
			rewriteAudit(t, s, func(m []redis.XMessage) []redis.XMessage { return m }) // ids only: still intact
			if v := verify(t, s); !v.OK() {
				t.Fatalf("re-written with new ids only: %s", v.Problem)
			}
			rewriteAudit(t, s, tc.edit)
			v := verify(t, s)
			if v.OK() {
				t.Fatalf("tampering not found; verified %d events", v.Events)
			}
			if got := v.Problem.String(); !strings.Contains(got, tc.want) || v.Problem.Kind != tc.kind || v.Problem.Seq != tc.seq {
				t.Fatalf("problem = %q (%s seq %d), want %q (%s seq %d)", got, v.Problem.Kind, v.Problem.Seq, tc.want, tc.kind, tc.seq)
			}
		})
	}
}
