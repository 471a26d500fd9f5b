package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
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
	random := func(n int) string {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(r.IntN(256))
		}
		return string(b)
	}
	// Every byte value at each padding and block edge (the LuaBitOp mode
	// reads a block with one string.byte call), and words that are all
	// ones (the largest sums its arithmetic rotations see).
	for _, n := range []int{0, 55, 56, 63, 64, 119, 120, 1000} {
		in = append(in, random(n), strings.Repeat("\xff", n))
	}
	for i := 0; i < 40; i++ {
		in = append(in, random(r.IntN(400)))
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

// BenchmarkAuditAppend measures one chained event on its own (the script
// round trip, the head read, the canonical JSON and the SHA-256), and
// BenchmarkRaiseIncidentChained a whole transition that appends one.
// Run against a real Redis: MUSTER_TEST_REDIS_URL=redis://127.0.0.1:6379/9
// go test ./store -run '^$' -bench Chained -benchtime 2000x. Each reports
// the p99 latency as a metric.
func BenchmarkAuditAppend(b *testing.B) {
	benchP99(b, func(s *store.Store, i int) error {
		_, err := s.AppendAudit(context.Background(), "bench.event", "amara", fmt.Sprintf("INC-%d", i),
			map[string]any{"text": "Fence cut near gate B, camera 4 shows two people — «ünïcode»", "site": "harbour", "severity": "sev2"})
		return err
	})
}

// BenchmarkRaiseIncidentChained: see BenchmarkAuditAppend.
func BenchmarkRaiseIncidentChained(b *testing.B) {
	benchP99(b, func(s *store.Store, i int) error {
		_, err := s.RaiseIncident(context.Background(), store.NewIncident{Site: "harbour", Category: "intrusion", Severity: "sev2",
			Reporter: "amara", Text: "Fence cut near gate B, camera 4 shows two people"})
		return err
	})
}

// BenchmarkLuaSHA256 measures the script-side SHA-256 per 64-byte block
// (what each audit event costs Redis, four blocks for an escalation
// step): one 64 KiB input per call, so the round trip is lost in the
// noise. Run against a real Redis (the LuaBitOp mode):
// MUSTER_TEST_REDIS_URL=redis://127.0.0.1:6379/9 go test ./store -run '^$' -bench LuaSHA256
func BenchmarkLuaSHA256(b *testing.B) {
	s := storetest.Open(b, nil)
	if err := s.RegisterEmbeddedSHA256(); err != nil {
		b.Fatal(err)
	}
	in := strings.Repeat("Fence cut near gate B, cam 4 x\xff\x00", 65536/32) // 32 bytes
	sum := sha256.Sum256([]byte(in))
	want := hex.EncodeToString(sum[:])
	blocks := len(in)/64 + 1
	b.ResetTimer()
	var mode string
	for range b.N {
		got, m, err := s.LuaSHA256(context.Background(), in, "")
		if err != nil {
			b.Fatal(err)
		}
		if got != want {
			b.Fatalf("lua sha256 (%s) = %s, want %s", m, got, want)
		}
		mode = m
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*blocks), "µs/block")
	b.Logf("mode %s, %d blocks a call", mode, blocks)
}

func benchP99(b *testing.B, op func(*store.Store, int) error) {
	s := storetest.Open(b, nil)
	if err := s.RegisterEmbeddedSHA256(); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := op(s, i); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds()), "p99-µs")
	if v, err := s.VerifyAudit(context.Background()); err != nil || !v.OK() || v.Events != b.N {
		b.Fatalf("after the benchmark: %+v %v", v, err)
	}
}

func TestPruneKeepsHeldRecordsAndTheChainVerifiable(t *testing.T) {
	ctx := context.Background()
	s, clock := chainStore(t)
	*clock = time.Date(2018, 1, 10, 9, 0, 0, 0, time.UTC)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// 2018: INC-1 raised and resolved (seq 1-2); A-1 triggered and stood
	// down (seq 3-5); INC-2 raised, resolved and put on hold (seq 6-8).
	inc1, err := s.RaiseIncident(ctx, store.NewIncident{Site: "harbour", Category: "theft", Severity: "sev3", Reporter: "ben", Text: "Van broken into"})
	must(err)
	_, err = s.ChangeIncident(ctx, inc1.Num, "farid", store.ActionResolve, "Police report filed")
	must(err)
	a, tasks, err := s.TriggerPlan(ctx, store.NewActivation{Plan: "fire-evacuation", PlanName: "Fire evacuation", Site: "harbour", By: "jonah",
		Tasks: []store.NewTask{{Title: "Sweep", Role: "guard", Policy: "critical", Assignee: "ben"}}})
	must(err)
	_, err = s.CloseActivation(ctx, a.Num, "jonah", "false alarm", "plan.stood_down")
	must(err)
	inc2, err := s.RaiseIncident(ctx, store.NewIncident{Site: "depot", Category: "injury", Severity: "sev2", Reporter: "dev", Text: "Fall from ladder"})
	must(err)
	_, err = s.ChangeIncident(ctx, inc2.Num, "grace", store.ActionResolve, "Taken to hospital")
	must(err)
	_, err = s.ChangeIncident(ctx, inc2.Num, "jonah", store.ActionHold, "claim expected")
	must(err)
	// 2026: INC-3 (seq 9), still open.
	*clock = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	_, err = s.RaiseIncident(ctx, store.NewIncident{Site: "harbour", Category: "intrusion", Severity: "sev2", Reporter: "amara", Text: "Gate forced"})
	must(err)

	before := clock.Add(-7 * 365 * 24 * time.Hour) // 2019-03-04
	plan, err := s.PlanPrune(ctx, before)
	must(err)
	if fmt.Sprint(plan.Incidents, plan.Activations, plan.Tasks, plan.Held) != fmt.Sprintf("[1] [1] [%d] [INC-2]", tasks[0].Num) {
		t.Fatalf("plan: incidents %v activations %v tasks %v held %v", plan.Incidents, plan.Activations, plan.Tasks, plan.Held)
	}
	if n := len(plan.Events); n != 5 || plan.Events[4].Seq != 5 {
		t.Fatalf("plan prunes %d events, want seq 1-5 (it must stop at INC-2, which is on hold)", n)
	}
	var export strings.Builder
	must(s.WritePruneExport(ctx, plan, &export))
	lines := strings.Split(strings.TrimSpace(export.String()), "\n")
	if len(lines) != 3+5 || !strings.Contains(lines[0], `"ref":"INC-1"`) || !strings.Contains(lines[0], "Police report filed") ||
		!strings.Contains(lines[7], `"kind":"plan.stood_down"`) {
		t.Fatalf("export (%d lines):\n%s", len(lines), export.String())
	}
	sum := sha256.Sum256([]byte(export.String()))
	cp, err := s.ApplyPrune(ctx, plan, "muster", "pruned.jsonl", hex.EncodeToString(sum[:]))
	must(err)
	if cp.FromSeq != 1 || cp.ToSeq != 5 || cp.Incidents != 1 {
		t.Fatalf("checkpoint = %+v", cp)
	}
	v := verify(t, s)
	if !v.OK() || v.FirstSeq != 6 || v.LastSeq != 10 || v.PrunedTo != 5 {
		t.Fatalf("after prune: ok=%v %v first %d last %d pruned to %d", v.OK(), v.Problem, v.FirstSeq, v.LastSeq, v.PrunedTo)
	}
	if _, err := s.Incident(ctx, inc1.Num); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("INC-1 after prune: %v, want not found", err)
	}
	if _, err := s.Activation(ctx, a.Num); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("A-1 after prune: %v, want not found", err)
	}
	if got, err := s.Incident(ctx, inc2.Num); err != nil || !got.Hold {
		t.Fatalf("INC-2 (on hold) after prune: %+v %v", got, err)
	}

	// Released, INC-2 goes with a second prune; the chain still verifies.
	_, err = s.ChangeIncident(ctx, inc2.Num, "jonah", store.ActionRelease, "claim settled") // seq 11
	must(err)
	plan, err = s.PlanPrune(ctx, before)
	must(err)
	if len(plan.Incidents) != 1 || len(plan.Events) != 3 { // seq 6-8: INC-2's 2018 events
		t.Fatalf("second plan: incidents %v, %d events", plan.Incidents, len(plan.Events))
	}
	_, err = s.ApplyPrune(ctx, plan, "muster", "pruned2.jsonl", "")
	must(err)
	if v := verify(t, s); !v.OK() || v.FirstSeq != 9 || v.PrunedTo != 8 {
		t.Fatalf("after the second prune: %v first %d pruned to %d", v.Problem, v.FirstSeq, v.PrunedTo)
	}

	// Removing the first event left is still found.
	rewriteAudit(t, s, func(m []redis.XMessage) []redis.XMessage { return m[1:] })
	if v := verify(t, s); v.OK() || v.Problem.Kind != store.TamperRemoved || v.Problem.Seq != 9 {
		t.Fatalf("first event after the checkpoint removed: %+v", v.Problem)
	}
}

func TestCorrectiveActions(t *testing.T) {
	ctx := context.Background()
	s, _ := chainStore(t)
	if _, err := s.AddAction(ctx, 7, "jonah", "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("action on a missing drill: %v", err)
	}
	a, _, err := s.TriggerPlan(ctx, store.NewActivation{Plan: "fire-evacuation", PlanName: "Fire evacuation", Site: "harbour", By: "jonah", Drill: true,
		Tasks: []store.NewTask{{Title: "Sweep", Role: "guard", Policy: "critical", Assignee: "ben"}}})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := s.AddAction(ctx, a.Drill, "jonah", "Brief night shift on the assembly point")
	if err != nil || ca.ID() != "CA-1" {
		t.Fatalf("add: %+v %v", ca, err)
	}
	if open, err := s.Actions(ctx, store.ActionFilter{OpenOnly: true}); err != nil || len(open) != 1 || open[0].Text != ca.Text {
		t.Fatalf("open actions: %v %v", open, err)
	}
	done, err := s.CloseAction(ctx, ca.Num, "jonah", "briefed 3 March")
	if err != nil || done.Status != store.ActionDone || done.DoneNote != "briefed 3 March" {
		t.Fatalf("close: %+v %v", done, err)
	}
	if _, err := s.CloseAction(ctx, ca.Num, "jonah", ""); !errors.Is(err, store.ErrWrongState) {
		t.Fatalf("second close: %v", err)
	}
	if open, _ := s.Actions(ctx, store.ActionFilter{OpenOnly: true}); len(open) != 0 {
		t.Fatalf("open after close: %v", open)
	}
	if all, _ := s.Actions(ctx, store.ActionFilter{Drill: a.Drill}); len(all) != 1 {
		t.Fatalf("drill's actions: %v", all)
	}
	if v := verify(t, s); !v.OK() {
		t.Fatal(v.Problem)
	}
}

// TestChainOnEveryBackend appends events through each way the scripts
// hash (the arithmetic fallback when the embedded server has no native
// command, the native command, LuaBitOp on a real Redis) and checks Go
// agrees with every hash, with text that needs escaping.
func TestChainOnEveryBackend(t *testing.T) {
	ctx := context.Background()
	for name, s := range backends(t, nil) {
		for _, native := range []bool{false, true} {
			if native {
				if err := s.RegisterEmbeddedSHA256(); err != nil {
					t.Fatal(err)
				}
			}
			_, mode, err := s.LuaSHA256(ctx, "", "")
			if err != nil {
				t.Fatal(err)
			}
			t.Run(name+"/"+mode, func(t *testing.T) {
				inc, err := s.RaiseIncident(ctx, store.NewIncident{Site: "harbour", Category: "fire", Severity: "sev1", Reporter: "amara",
					Text: "Smoke — «kitchen» \"B\" \\ line1\nline2\ttab \x01 火事"})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.AppendAudit(ctx, "test.event", "amara", inc.ID(), map[string]any{"n": 1}); err != nil {
					t.Fatal(err)
				}
				v := verify(t, s)
				if !v.OK() {
					t.Fatalf("%s: %s", mode, v.Problem)
				}
			})
		}
	}
}
