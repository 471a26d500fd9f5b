package store_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/muster-ops/muster/internal/storetest"
	"github.com/muster-ops/muster/store"
)

// testKey signs the heads in these tests.
var testKey = func() *store.AuditKey {
	k, err := store.ParseAuditKey(strings.Repeat("5e", 32))
	if err != nil {
		panic(err)
	}
	return k
}()

// chainStore opens a store (real Redis when configured) and a clock the
// test moves.
func chainStore(t *testing.T) (*store.Store, *time.Time) {
	t.Helper()
	clock := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	s := storetest.Open(t, func() time.Time { return clock })
	return s, &clock
}

// seal seals every event appended so far, signed with testKey.
func seal(t testing.TB, s *store.Store) int {
	t.Helper()
	n, err := s.NewAuditSealer(testKey, "").Seal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
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

// verify seals what was appended, then verifies the chain against
// testKey's public key.
func verify(t *testing.T, s *store.Store) *store.AuditVerification {
	t.Helper()
	seal(t, s)
	return verifyOnly(t, s, store.VerifyOptions{Keys: []ed25519.PublicKey{testKey.Public()}})
}

// verifyOnly verifies without sealing first.
func verifyOnly(t *testing.T, s *store.Store, o store.VerifyOptions) *store.AuditVerification {
	t.Helper()
	v, err := s.VerifyAudit(context.Background(), o)
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
	// Appended, not yet sealed: nothing is vouched for, nothing is wrong.
	v := verifyOnly(t, s, store.VerifyOptions{Keys: []ed25519.PublicKey{testKey.Public()}})
	if !v.OK() || v.Events != 0 || v.Unsealed != 16 {
		t.Fatalf("before sealing: ok %v (%v), %d sealed, %d unsealed; want 0 and 16", v.OK(), v.Problem, v.Events, v.Unsealed)
	}
	v = verify(t, s)
	if !v.OK() {
		t.Fatalf("untouched chain reported: %s", v.Problem)
	}
	// 3 x (raised, acknowledge, resolve) + 2 task.assigned + plan.triggered
	// + task.ack + task.cancelled + plan.stood_down + config.loaded = 16.
	if v.Events != 16 || v.FirstSeq != 1 || v.LastSeq != 16 || v.Unsealed != 0 || !v.Signed || !v.KeyChecked {
		t.Fatalf("verified %d events (seq %d..%d), %d unsealed, signed %v checked %v; want 16 (1..16), signed and checked",
			v.Events, v.FirstSeq, v.LastSeq, v.Unsealed, v.Signed, v.KeyChecked)
	}
	head, err := s.AuditHead(context.Background())
	if err != nil || head.Seq != 16 || head.Hash != v.Head || head.Key != testKey.PublicHex() || head.Sig == "" {
		t.Fatalf("head = %+v, %v; verification head %s", head, err, v.Head)
	}
	// ScanAudit gives each event its place in the chain.
	evs, err := s.AuditEvents(context.Background(), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	prev := store.AuditGenesis
	for i, e := range evs {
		if e.Seq != int64(i+1) || e.Prev != prev || e.Hash != e.ComputeHash() || !e.Sealed {
			t.Fatalf("event %d: seq %d prev %s hash %s sealed %v, computed %s\n%s", i, e.Seq, e.Prev, e.Hash, e.Sealed, e.ComputeHash(), e.Canonical())
		}
		prev = e.Hash
	}
	if prev != head.Hash {
		t.Fatalf("the chain computed from the events ends at %s, the head says %s", prev, head.Hash)
	}
	// Sealed events are not sealed again; new ones are.
	if n := seal(t, s); n != 0 {
		t.Fatalf("sealed %d events again", n)
	}
	if _, err := s.AppendAudit(context.Background(), "test.event", "amara", "INC-1", nil); err != nil {
		t.Fatal(err)
	}
	if v := verify(t, s); !v.OK() || v.LastSeq != 17 || v.Seals != 2 {
		t.Fatalf("after one more event: ok %v (%v), last seq %d, %d seals; want seq 17 in 2 seals", v.OK(), v.Problem, v.LastSeq, v.Seals)
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
		for _, f := range []string{"at", "kind", "actor", "subject", "data"} {
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
	forged := func(m []redis.XMessage, at int) redis.XMessage {
		return redis.XMessage{Values: map[string]any{"at": m[at].Values["at"], "kind": "task.ack", "actor": "ben", "subject": "T-2", "data": "{}"}}
	}
	swap := func(m []redis.XMessage, i, j int) []redis.XMessage {
		m[i], m[j] = m[j], m[i]
		return m
	}
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
		{"removed", func(m []redis.XMessage) []redis.XMessage {
			return append(m[:8:8], m[9:]...) // seq 9
		}, "event seq 9 was removed", store.TamperRemoved, 9},
		{"removed two", func(m []redis.XMessage) []redis.XMessage {
			return append(m[:8:8], m[10:]...) // seq 9 and 10
		}, "events seq 9 to 10 were removed", store.TamperRemoved, 9},
		{"removed last", func(m []redis.XMessage) []redis.XMessage {
			return m[:len(m)-1]
		}, "event seq 16 was removed", store.TamperRemoved, 16},
		{"removed first", func(m []redis.XMessage) []redis.XMessage {
			return m[1:]
		}, "event seq 1 was removed", store.TamperRemoved, 1},
		{"inserted", func(m []redis.XMessage) []redis.XMessage {
			return append(m[:10:10], append([]redis.XMessage{forged(m, 10)}, m[10:]...)...)
		}, "event seq 11 (stream id 1-11, task.ack T-2) was inserted", store.TamperInserted, 11},
		{"inserted copy", func(m []redis.XMessage) []redis.XMessage {
			return append(m[:10:10], append([]redis.XMessage{m[3]}, m[10:]...)...)
		}, "event seq 11 (stream id 1-11, incident.raised INC-2) was inserted: it repeats seq 4", store.TamperInserted, 11},
		// A reorder is named as one, wherever the two events were.
		{"adjacent events swapped", func(m []redis.XMessage) []redis.XMessage {
			return swap(m, 10, 11) // seq 11 and 12
		}, "event seq 12 (stream id 1-11, plan.triggered A-1) was reordered: it now stands at seq 11", store.TamperReordered, 12},
		{"distant events swapped", func(m []redis.XMessage) []redis.XMessage {
			return swap(m, 2, 8) // seq 3 and 9
		}, "event seq 9 (stream id 1-3, incident.resolve INC-3) was reordered: it now stands at seq 3", store.TamperReordered, 9},
		{"one event moved back", func(m []redis.XMessage) []redis.XMessage {
			moved := m[12]
			return append(m[:4:4], append([]redis.XMessage{moved}, append(m[4:12:12], m[13:]...)...)...)
		}, "event seq 13 (stream id 1-5, task.ack T-1) was reordered: it now stands at seq 5", store.TamperReordered, 13},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, clock := chainStore(t)
			someHistory(t, s, clock)
			seal(t, s)
			rewriteAudit(t, s, func(m []redis.XMessage) []redis.XMessage { return m }) // ids only: still intact
			if v := verify(t, s); !v.OK() {
				t.Fatalf("re-written with new ids only: %s", v.Problem)
			}
			rewriteAudit(t, s, tc.edit)
			v := verifyOnly(t, s, store.VerifyOptions{Keys: []ed25519.PublicKey{testKey.Public()}})
			if v.OK() {
				t.Fatalf("tampering not found; verified %d events", v.Events)
			}
			if got := v.Problem.String(); !strings.Contains(got, tc.want) || v.Problem.Kind != tc.kind || v.Problem.Seq != tc.seq {
				t.Fatalf("problem = %q (%s seq %d), want %q (%s seq %d)", got, v.Problem.Kind, v.Problem.Seq, tc.want, tc.kind, tc.seq)
			}
		})
	}
}

// forge appends an event and moves the head over it by direct Redis
// writes, as someone with write access to Redis but not the signing key
// would: the new head's hash is computed correctly. sign, when set, signs
// it with that key instead of leaving the old signature.
func forge(t *testing.T, s *store.Store, sign *store.AuditKey) {
	t.Helper()
	ctx := context.Background()
	evs, err := s.AuditEvents(ctx, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	e := store.AuditEvent{AtMS: last.AtMS, Kind: "task.ack", Actor: "ben", Subject: "T-2", Data: `{"note":""}`,
		Seq: last.Seq + 1, SeqRaw: fmt.Sprint(last.Seq + 1), Prev: last.Hash}
	id, err := s.Client().XAdd(ctx, &redis.XAddArgs{Stream: s.Key("audit"),
		Values: []any{"at", e.AtMS, "kind", e.Kind, "actor", e.Actor, "subject", e.Subject, "data", e.Data}}).Result()
	if err != nil {
		t.Fatal(err)
	}
	fields := []any{"seq", e.Seq, "hash", e.ComputeHash(), "id", id}
	if sign != nil {
		at := time.Now().UnixMilli()
		sig := ed25519.Sign(signingKey(sign), store.HeadStatement(s.Namespace(), e.Seq, e.ComputeHash(), at))
		fields = append(fields, "at", at, "sig", hex.EncodeToString(sig), "key", sign.PublicHex())
	}
	if err := s.Client().HSet(ctx, s.Key("audit:head"), fields...).Err(); err != nil {
		t.Fatal(err)
	}
}

// signingKey rebuilds the private key of k from the seed the tests use.
func signingKey(k *store.AuditKey) ed25519.PrivateKey {
	for _, seed := range []string{strings.Repeat("5e", 32), strings.Repeat("a1", 32)} {
		b, _ := hex.DecodeString(seed)
		if priv := ed25519.NewKeyFromSeed(b); priv.Public().(ed25519.PublicKey).Equal(k.Public()) {
			return priv
		}
	}
	panic("unknown test key")
}

// A forged event appended and the head moved over it by direct Redis
// writes is named, whether the forger kept the old signature or signed
// with a key of their own; an untouched store verifies.
func TestForgedAppendWithMovedHeadIsCaught(t *testing.T) {
	other, err := store.ParseAuditKey(strings.Repeat("a1", 32))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		sign *store.AuditKey
		want string
	}{
		{"old signature kept", nil, "not signed by the given key"},
		{"signed with another key", other, "not signed by the given key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, clock := chainStore(t)
			someHistory(t, s, clock)
			if v := verify(t, s); !v.OK() {
				t.Fatalf("untouched: %s", v.Problem)
			}
			forge(t, s, tc.sign)
			v := verifyOnly(t, s, store.VerifyOptions{Keys: []ed25519.PublicKey{testKey.Public()}})
			if v.OK() {
				t.Fatal("the forged event verified")
			}
			if got := v.Problem.String(); v.Problem.Seq != 17 || v.Problem.Kind != store.TamperInserted ||
				!strings.Contains(got, "event seq 17") || !strings.Contains(got, "task.ack T-2") || !strings.Contains(got, tc.want) {
				t.Fatalf("problem = %q (%s seq %d), want event seq 17 (task.ack T-2) named as inserted, %q", got, v.Problem.Kind, v.Problem.Seq, tc.want)
			}
			// The sealer will not sign on top of a head it cannot vouch for.
			if _, err := s.NewAuditSealer(testKey, "").Seal(context.Background()); tc.sign == nil && !errors.Is(err, store.ErrHeadTampered) {
				t.Fatalf("sealing over the forged head: %v, want %v", err, store.ErrHeadTampered)
			}
		})
	}
	// Without a key, a head signed by another key is consistent on its own;
	// the key it names is what the operator compares with theirs.
	s, clock := chainStore(t)
	someHistory(t, s, clock)
	seal(t, s)
	forge(t, s, other)
	v := verifyOnly(t, s, store.VerifyOptions{})
	if !v.OK() || v.SignedBy != other.PublicHex() || v.KeyChecked {
		t.Fatalf("without a key: ok %v (%v), signed by %s, checked %v; want it to name the other key", v.OK(), v.Problem, v.SignedBy, v.KeyChecked)
	}
}

// An event appended without moving the head is not vouched for: it is
// reported as unsealed, and is a failure once it has waited longer than a
// minute while a sealer runs.
func TestUnsealedTailIsReported(t *testing.T) {
	ctx := context.Background()
	s, clock := chainStore(t)
	someHistory(t, s, clock)
	seal(t, s)
	if _, err := s.AppendAudit(ctx, "task.ack", "ben", "T-2", nil); err != nil {
		t.Fatal(err)
	}
	keys := store.VerifyOptions{Keys: []ed25519.PublicKey{testKey.Public()}}
	v := verifyOnly(t, s, keys)
	if !v.OK() || v.Unsealed != 1 || !v.UnsealedSince.Equal(*clock) || v.SealerRunning {
		t.Fatalf("ok %v (%v), %d unsealed since %s, sealer running %v; want 1 unsealed, no sealer", v.OK(), v.Problem, v.Unsealed, v.UnsealedSince, v.SealerRunning)
	}
	if l, err := s.AcquireLease(ctx, store.SealerLease, "sealer-1", time.Hour); err != nil || !l.Held {
		t.Fatalf("lease: %+v %v", l, err)
	}
	*clock = clock.Add(59 * time.Second)
	if v := verifyOnly(t, s, keys); !v.OK() || !v.SealerRunning {
		t.Fatalf("59 s unsealed: %v, sealer running %v", v.Problem, v.SealerRunning)
	}
	*clock = clock.Add(2 * time.Second)
	v = verifyOnly(t, s, keys)
	if v.OK() || v.Problem.Kind != store.ProblemUnsealed || v.Problem.Seq != 17 || !strings.Contains(v.Problem.String(), "1 events wait unsealed") {
		t.Fatalf("61 s unsealed with a sealer running: %+v, want an unsealed problem at seq 17", v.Problem)
	}
	if v := verify(t, s); !v.OK() || v.Unsealed != 0 || v.LastSeq != 17 {
		t.Fatalf("sealed: %v, %d unsealed, last %d", v.Problem, v.Unsealed, v.LastSeq)
	}
}

// A seal log kept outside Redis catches a stream truncated and its head
// and seals moved back to an earlier, genuinely signed head.
func TestSealLogCatchesTruncation(t *testing.T) {
	ctx := context.Background()
	s, clock := chainStore(t)
	logPath := filepath.Join(t.TempDir(), "seal.log")
	sealer := s.NewAuditSealer(testKey, logPath)
	someHistory(t, s, clock) // seq 1-16
	if _, err := sealer.Seal(ctx); err != nil {
		t.Fatal(err)
	}
	firstSeal, err := s.Client().HGetAll(ctx, s.Key("audit:head")).Result()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // seq 17-19, a second seal
		if _, err := s.AppendAudit(ctx, "test.event", "amara", fmt.Sprintf("INC-%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sealer.Seal(ctx); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	log, err := store.ReadSealLog(f)
	f.Close()
	if err != nil || len(log) != 2 || log[1].Seq != 19 {
		t.Fatalf("seal log: %+v %v; want two heads, the last at seq 19", log, err)
	}
	opts := store.VerifyOptions{Keys: []ed25519.PublicKey{testKey.Public()}, SealLog: log}
	if v := verifyOnly(t, s, opts); !v.OK() || v.SealLog != 2 {
		t.Fatalf("untouched, with the seal log: %v, %d heads checked", v.Problem, v.SealLog)
	}
	// The truncation: events 17-19 gone, the second seal gone, the head
	// back to the first seal's, which is genuinely signed.
	rewriteAudit(t, s, func(m []redis.XMessage) []redis.XMessage { return m[:16] })
	seals, _ := s.Client().XRange(ctx, s.Key("audit:seals"), "-", "+").Result()
	s.Client().XDel(ctx, s.Key("audit:seals"), seals[len(seals)-1].ID)
	firstSeal["id"] = "1-16"
	if err := s.Client().HSet(ctx, s.Key("audit:head"), firstSeal).Err(); err != nil {
		t.Fatal(err)
	}
	if v := verifyOnly(t, s, store.VerifyOptions{Keys: opts.Keys}); !v.OK() {
		t.Fatalf("without the seal log the truncation cannot show, yet: %v", v.Problem)
	}
	v := verifyOnly(t, s, opts)
	if v.OK() || v.Problem.Kind != store.TamperRemoved || v.Problem.Seq != 17 || !strings.Contains(v.Problem.String(), "events seq 17 to 19 were removed") {
		t.Fatalf("truncated, with the seal log: %+v, want seq 17 to 19 removed", v.Problem)
	}
}

// BenchmarkAuditAppend measures one audit event on its own (the script
// round trip and the XADD), and BenchmarkRaiseIncidentChained a whole
// transition that appends one. Run against a real Redis:
// MUSTER_TEST_REDIS_URL=redis://127.0.0.1:6379/9 go test ./store -run '^$' -bench Chained -benchtime 2000x.
// Each reports the p99 latency as a metric.
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

func benchP99(b *testing.B, op func(*store.Store, int) error) {
	s := storetest.Open(b, nil)
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
	seal(b, s)
	if v, err := s.VerifyAudit(context.Background(), store.VerifyOptions{}); err != nil || !v.OK() || v.Events != b.N {
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
	// down, its task cancelled (seq 3-6); INC-2 raised, resolved and put
	// on hold (seq 7-9).
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
	// 2026: INC-3 (seq 10), still open.
	*clock = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	_, err = s.RaiseIncident(ctx, store.NewIncident{Site: "harbour", Category: "intrusion", Severity: "sev2", Reporter: "amara", Text: "Gate forced"})
	must(err)

	before := clock.Add(-7 * 365 * 24 * time.Hour) // 2019-03-04
	seal(t, s)                                     // only sealed events are pruned
	plan, err := s.PlanPrune(ctx, before)
	must(err)
	if fmt.Sprint(plan.Incidents, plan.Activations, plan.Tasks, plan.Held) != fmt.Sprintf("[1] [1] [%d] [INC-2]", tasks[0].Num) {
		t.Fatalf("plan: incidents %v activations %v tasks %v held %v", plan.Incidents, plan.Activations, plan.Tasks, plan.Held)
	}
	if n := len(plan.Events); n != 6 || plan.Events[5].Seq != 6 {
		t.Fatalf("plan prunes %d events, want seq 1-6 (it must stop at INC-2, which is on hold)", n)
	}
	var export strings.Builder
	must(s.WritePruneExport(ctx, plan, &export))
	lines := strings.Split(strings.TrimSpace(export.String()), "\n")
	if len(lines) != 3+6 || !strings.Contains(lines[0], `"ref":"INC-1"`) || !strings.Contains(lines[0], "Police report filed") ||
		!strings.Contains(lines[1], `"kind":"stood_down","text":"false alarm"`) || !strings.Contains(lines[2], `"kind":"cancelled"`) ||
		!strings.Contains(lines[8], `"kind":"plan.stood_down"`) {
		t.Fatalf("export (%d lines):\n%s", len(lines), export.String())
	}
	sum := sha256.Sum256([]byte(export.String()))
	cp, err := s.ApplyPrune(ctx, plan, "muster", "pruned.jsonl", hex.EncodeToString(sum[:]))
	must(err)
	if cp.FromSeq != 1 || cp.ToSeq != 6 || cp.Incidents != 1 {
		t.Fatalf("checkpoint = %+v", cp)
	}
	v := verify(t, s)
	if !v.OK() || v.FirstSeq != 7 || v.LastSeq != 11 || v.PrunedTo != 6 {
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
	_, err = s.ChangeIncident(ctx, inc2.Num, "jonah", store.ActionRelease, "claim settled") // seq 12
	must(err)
	seal(t, s)
	plan, err = s.PlanPrune(ctx, before)
	must(err)
	if len(plan.Incidents) != 1 || len(plan.Events) != 3 { // seq 7-9: INC-2's 2018 events
		t.Fatalf("second plan: incidents %v, %d events", plan.Incidents, len(plan.Events))
	}
	_, err = s.ApplyPrune(ctx, plan, "muster", "pruned2.jsonl", "")
	must(err)
	if v := verify(t, s); !v.OK() || v.FirstSeq != 10 || v.PrunedTo != 9 {
		t.Fatalf("after the second prune: %v first %d pruned to %d", v.Problem, v.FirstSeq, v.PrunedTo)
	}

	// Removing the first event left is still found.
	rewriteAudit(t, s, func(m []redis.XMessage) []redis.XMessage { return m[1:] })
	if v := verify(t, s); v.OK() || v.Problem.Kind != store.TamperRemoved || v.Problem.Seq != 10 {
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

// TestChainOnEveryBackend seals events with text that needs escaping on
// the embedded server and, when configured, on a real Redis, and checks
// the chain verifies on both.
func TestChainOnEveryBackend(t *testing.T) {
	ctx := context.Background()
	backends := map[string]*store.Store{}
	emb, err := store.Open(ctx, store.Options{Namespace: storetest.Namespace()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emb.Close() })
	backends["embedded"] = emb
	if storetest.URL() != "" {
		backends["redis"] = storetest.Open(t, nil)
	}
	for name, s := range backends {
		t.Run(name, func(t *testing.T) {
			inc, err := s.RaiseIncident(ctx, store.NewIncident{Site: "harbour", Category: "fire", Severity: "sev1", Reporter: "amara",
				Text: "Smoke — «kitchen» \"B\" \\ line1\nline2\ttab \x01 火事"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.AppendAudit(ctx, "test.event", "amara", inc.ID(), map[string]any{"n": 1}); err != nil {
				t.Fatal(err)
			}
			if v := verify(t, s); !v.OK() || v.Events != 2 {
				t.Fatalf("%v, %d events", v.Problem, v.Events)
			}
		})
	}
}

// A task's timeline is read from the audit chain, so rewriting its
// acknowledgement there is rewriting a sealed event, and verify names it.
// An incident's timeline is kept for /incident show, and verify checks
// every entry against the events: a rewritten entry is found too.
func TestRewrittenTimelineIsCaught(t *testing.T) {
	ctx := context.Background()
	keys := store.VerifyOptions{Keys: []ed25519.PublicKey{testKey.Public()}}
	t.Run("task ack", func(t *testing.T) {
		s, clock := chainStore(t)
		someHistory(t, s, clock)
		seal(t, s)
		tl, err := s.TaskTimeline(ctx, 1)
		if err != nil || len(tl) != 2 || tl[1].Kind != "ack" || tl[1].Actor != "ben" {
			t.Fatalf("T-1 timeline %+v %v: want assigned, then acknowledged by ben", tl, err)
		}
		// Make farid the one who acknowledged T-1.
		rewriteAudit(t, s, func(m []redis.XMessage) []redis.XMessage {
			m[12].Values["actor"] = "farid" // seq 13: task.ack T-1
			return m
		})
		if tl, _ := s.TaskTimeline(ctx, 1); tl[1].Actor != "farid" {
			t.Fatalf("the rewrite did not reach the timeline: %+v", tl)
		}
		v := verifyOnly(t, s, keys)
		if v.OK() || v.Problem.Kind != store.TamperChanged || v.Problem.Seq != 13 || !strings.Contains(v.Problem.String(), "task.ack T-1") {
			t.Fatalf("rewritten ack: %+v, want event seq 13 (task.ack T-1) changed", v.Problem)
		}
	})
	t.Run("incident entry", func(t *testing.T) {
		s, clock := chainStore(t)
		someHistory(t, s, clock)
		if v := verify(t, s); !v.OK() {
			t.Fatalf("untouched: %v", v.Problem)
		}
		key := s.Key("incident", "2", "timeline")
		msgs, err := s.Client().XRange(ctx, key, "-", "+").Result()
		if err != nil || len(msgs) != 3 {
			t.Fatalf("INC-2 timeline %v %v", msgs, err)
		}
		s.Client().Del(ctx, key)
		for i, m := range msgs {
			if i == 1 {
				m.Values["actor"] = "grace" // acknowledged by farid, now grace
			}
			if err := s.Client().XAdd(ctx, &redis.XAddArgs{Stream: key, ID: m.ID, Values: m.Values}).Err(); err != nil {
				t.Fatal(err)
			}
		}
		v := verifyOnly(t, s, keys)
		if v.OK() || v.Problem.Event != "INC-2 timeline" || !strings.Contains(v.Problem.String(), "acknowledge by grace") {
			t.Fatalf("rewritten incident entry: %+v, want the INC-2 timeline entry named", v.Problem)
		}
	})
}

// A roll-call answer is an event in the chain: rewriting who answered, or
// how, is rewriting a sealed event, and verify names it. The person's
// timeline (and the roll-call report, which reads the same events) shows
// what the chain says.
func TestRewrittenRollCallAnswerIsCaught(t *testing.T) {
	ctx := context.Background()
	s, clock := chainStore(t)
	num, tasks, err := s.StartRollCall(ctx, store.NewRollCall{Sites: []string{"harbour"}, By: "farid", Policy: "rollcall",
		People: []store.RollCallMember{{Person: "amara", Site: "harbour"}, {Person: "ben", Site: "harbour"}}})
	if err != nil || num != 1 || len(tasks) != 2 {
		t.Fatalf("start: R-%d %v %v", num, tasks, err)
	}
	*clock = clock.Add(90 * time.Second)
	if _, err := s.AnswerRollCall(ctx, store.RollCallAnswer{Person: "amara", Answer: store.AnswerSafe, Channel: "sms"}); err != nil {
		t.Fatal(err)
	}
	*clock = clock.Add(time.Minute)
	if _, err := s.CheckIn(ctx, "ben", "ben", "slack"); !errors.Is(err, store.ErrNoSession) {
		t.Fatalf("check-in without a session: %v", err)
	}
	if v := verify(t, s); !v.OK() || v.Events != 4 {
		t.Fatalf("untouched: %v, %d events; want asked x2, started, safe", v.Problem, v.Events)
	}
	evs, err := s.AuditEvents(ctx, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	at := -1
	for i, e := range evs {
		if e.Kind == "rollcall.safe" {
			at = i
		}
	}
	if at < 0 || evs[at].Actor != "amara" || !strings.Contains(evs[at].Data, `"channel":"sms"`) || !strings.Contains(evs[at].Data, `"rollcall":"R-1"`) {
		t.Fatalf("answer event: %+v", evs)
	}
	tn := tasks["amara"]
	if tl, _ := s.TaskTimeline(ctx, tn); len(tl) != 2 || tl[1].Kind != "safe" || tl[1].Text != "R-1 by sms" {
		t.Fatalf("T-%d timeline %+v: want asked, then safe by sms", tn, tl)
	}
	// Make the answer come later, by voice: as if she had been reached only by a call.
	rewriteAudit(t, s, func(m []redis.XMessage) []redis.XMessage {
		m[at].Values["data"] = strings.Replace(m[at].Values["data"].(string), `"channel":"sms"`, `"channel":"voice"`, 1)
		return m
	})
	if tl, _ := s.TaskTimeline(ctx, tn); tl[1].Text != "R-1 by voice" {
		t.Fatalf("the rewrite did not reach the timeline: %+v", tl)
	}
	v := verifyOnly(t, s, store.VerifyOptions{Keys: []ed25519.PublicKey{testKey.Public()}})
	if v.OK() || v.Problem.Kind != store.TamperChanged || v.Problem.Seq != int64(at+1) ||
		!strings.Contains(v.Problem.String(), fmt.Sprintf("rollcall.safe T-%d", tn)) {
		t.Fatalf("rewritten answer: %+v, want event seq %d (rollcall.safe T-%d) changed", v.Problem, at+1, tn)
	}
}

// Sends recorded together share one messages.sent event: one that names
// a record on hold keeps that record's events, as its own message.sent
// would (retention stops at it).
func TestPruneStopsAtSharedSendsOfAHeldRecord(t *testing.T) {
	ctx := context.Background()
	s, clock := chainStore(t)
	*clock = time.Date(2018, 1, 10, 9, 0, 0, 0, time.UTC)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	inc1, err := s.RaiseIncident(ctx, store.NewIncident{Site: "harbour", Category: "theft", Severity: "sev3", Reporter: "ben", Text: "Van broken into"})
	must(err)
	_, err = s.ChangeIncident(ctx, inc1.Num, "farid", store.ActionResolve, "Police report filed")
	must(err)
	// As lua/outbox_finish.lua writes it: INC-1's and INC-2's posts,
	// recorded in one batch.
	must(s.Client().XAdd(ctx, &redis.XAddArgs{Stream: s.Key("audit"), Values: []any{"at", clock.UnixMilli(),
		"kind", store.KindMessagesSent, "actor", "muster", "subject", "",
		"data", `[{"subject":"INC-1","data":{"channel":"chat"}},{"subject":"INC-2","data":{"channel":"chat"}}]`}}).Err())
	inc2, err := s.RaiseIncident(ctx, store.NewIncident{Site: "depot", Category: "injury", Severity: "sev2", Reporter: "dev", Text: "Fall from ladder"})
	must(err)
	_, err = s.ChangeIncident(ctx, inc2.Num, "grace", store.ActionResolve, "Taken to hospital")
	must(err)
	_, err = s.ChangeIncident(ctx, inc2.Num, "jonah", store.ActionHold, "claim expected")
	must(err)
	*clock = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	seal(t, s)
	plan, err := s.PlanPrune(ctx, clock.Add(-7*365*24*time.Hour))
	must(err)
	if n := len(plan.Events); n != 2 {
		t.Fatalf("plan prunes %d events, want INC-1's two (it must stop at the shared sends, which name INC-2, on hold)", n)
	}
}
