package store

// The audit log is the Redis stream muster:{ns}:audit. Every transition
// script appends its event through audit() in lua/prelude.lua, in the same
// script as the change, so a change and its record land together or not
// at all. The script computes no hash: the stream's order is the chain's
// order, and a sealer (seal.go; one at a time, under a lease) hashes new
// events in Go, in batches, and signs the chain's head soon after the
// append, as a Certificate Transparency log integrates and signs its
// entries within a bounded delay. The chain is:
//
//   - seq is 1 for the first event and one more for each event after it
//     (its place in the stream, counted from the last pruned event);
//   - prev is the hash of the event before (64 zeros for seq 1);
//   - hash is the SHA-256, in lowercase hex, of the event's canonical JSON
//     (CanonicalJSON), which covers seq and prev.
//
// The sealer records, for each batch, the seq and hash the chain reached,
// a short digest of each event's content (to name a changed, removed,
// inserted or reordered event) and an Ed25519 signature over the head, in
// the stream muster:{ns}:audit:seals; the latest head is also kept in the
// hash muster:{ns}:audit:head, and may be appended to a file outside Redis
// (records.seal_log). VerifyAudit (verify.go) recomputes the chain and
// checks it against the seals and their signatures. Records pruned under
// the retention policy leave a checkpoint event (records.pruned) that
// names the last pruned seq and hash, so the chain that remains still
// verifies.
//
// Events written before the chain was sealed outside Redis carry their
// seq, prev and hash as fields; those must agree with the chain as
// computed.

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// AuditGenesis is the prev of the first event of a chain.
const AuditGenesis = "0000000000000000000000000000000000000000000000000000000000000000"

// Audit event kinds written by this package (the transition scripts name
// their own: incident.raised, task.escalated, ...).
const (
	// KindConfigLoaded: a configuration was loaded (muster started or
	// reloaded), with its source and SHA-256.
	KindConfigLoaded = "config.loaded"
	// KindPruned: the checkpoint a retention prune leaves in the chain.
	KindPruned = "records.pruned"
)

// AuditEvent is one event of the audit stream, with its fields exactly as
// stored (At is parsed from AtMS for convenience).
type AuditEvent struct {
	ID      string    // stream id
	Seq     int64     // 0 for an event written before the chain began
	SeqRaw  string    // seq as stored
	At      time.Time // parsed from AtMS
	AtMS    string    // milliseconds since the Unix epoch, as stored
	Kind    string    // incident.raised, task.ack, ...
	Actor   string    // person id, or muster
	Subject string    // INC-4, T-17, A-3, C-1, CA-3, config, audit
	Data    string    // JSON details, as stored
	Prev    string
	Hash    string
	// Sealed: the chain head covers the event (the sealer has hashed it);
	// set by ScanAudit.
	Sealed bool
}

// ExportEvent is an audit event as exported (one JSON object per line):
// the stored fields unchanged (seq and at_ms as written, data as the
// JSON text that was hashed), plus the time in RFC 3339 UTC for people.
type ExportEvent struct {
	Seq     string `json:"seq"`
	ID      string `json:"id"`
	Time    string `json:"time"`
	AtMS    string `json:"at_ms"`
	Kind    string `json:"kind"`
	Actor   string `json:"actor"`
	Subject string `json:"subject"`
	Data    string `json:"data"`
	Prev    string `json:"prev"`
	Hash    string `json:"hash"`
}

// Export is the event as exported.
func (e *AuditEvent) Export() ExportEvent {
	t := ""
	if !e.At.IsZero() {
		t = e.At.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	return ExportEvent{Seq: e.SeqRaw, ID: e.ID, Time: t, AtMS: e.AtMS, Kind: e.Kind, Actor: e.Actor, Subject: e.Subject,
		Data: e.Data, Prev: e.Prev, Hash: e.Hash}
}

// Event turns an exported event back into an AuditEvent, for verifying
// an export.
func (x ExportEvent) Event() AuditEvent {
	e := AuditEvent{ID: x.ID, SeqRaw: x.Seq, AtMS: x.AtMS, Kind: x.Kind, Actor: x.Actor, Subject: x.Subject, Data: x.Data, Prev: x.Prev, Hash: x.Hash}
	e.Seq, _ = strconv.ParseInt(x.Seq, 10, 64)
	e.At = fromMS(toInt(x.AtMS))
	return e
}

// Chained reports whether the event carries the chain fields (events
// written before the chain was introduced do not).
func (e *AuditEvent) Chained() bool { return e.SeqRaw != "" || e.Hash != "" }

// Canonical is the event's canonical JSON (see CanonicalJSON).
func (e *AuditEvent) Canonical() []byte {
	return CanonicalJSON(e.SeqRaw, e.AtMS, e.Kind, e.Actor, e.Subject, e.Data, e.Prev)
}

// ComputeHash is the SHA-256 of the canonical JSON, lowercase hex.
func (e *AuditEvent) ComputeHash() string {
	sum := sha256.Sum256(e.Canonical())
	return hex.EncodeToString(sum[:])
}

// CanonicalJSON is the exact byte string an audit event's hash covers:
//
//	{"seq":<seq>,"at":<at>,"kind":<kind>,"actor":<actor>,"subject":<subject>,"data":<data>,"prev":<prev>}
//
// with no whitespace and the keys in exactly that order. seq and at are
// written as stored, which for every event muster writes is a decimal
// integer without sign or leading zeros (at is milliseconds since the
// Unix epoch). The other five are JSON strings of the stored bytes: data,
// itself JSON, is embedded as a string, not as an object. In a string,
// '"' is written \", '\' is written \\, each byte 0x00-0x1f is written
// \u00xx (lowercase hex), and every other byte, UTF-8 included, is
// written unchanged. lua/prelude.lua (auditjson, audit) builds the same
// bytes; the tests check the two agree.
func CanonicalJSON(seq, at, kind, actor, subject, data, prev string) []byte {
	b := make([]byte, 0, 96+len(kind)+len(actor)+len(subject)+len(data)+len(prev))
	b = append(b, `{"seq":`...)
	b = append(b, seq...)
	b = append(b, `,"at":`...)
	b = append(b, at...)
	for _, f := range []struct{ k, v string }{{"kind", kind}, {"actor", actor}, {"subject", subject}, {"data", data}, {"prev", prev}} {
		b = append(b, ',', '"')
		b = append(b, f.k...)
		b = append(b, '"', ':')
		b = appendCanonicalString(b, f.v)
	}
	return append(b, '}')
}

func appendCanonicalString(b []byte, s string) []byte {
	const hexd = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			b = append(b, '\\', '"')
		case c == '\\':
			b = append(b, '\\', '\\')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

var auditAppendScript = loadScript("audit_append")

// AppendAudit appends one audit event that is not part of a record
// transition (those append theirs in their own script); the sealer chains
// it like every other. data may be nil. It returns the event's stream id.
func (s *Store) AppendAudit(ctx context.Context, kind, actor, subject string, data map[string]any) (string, error) {
	if data == nil {
		data = map[string]any{}
	}
	v, err := s.run(ctx, auditAppendScript, ms(s.now()), kind, actor, subject, auditData(data))
	if err != nil {
		return "", fmt.Errorf("audit %s: %w", kind, err)
	}
	return toString(v), nil
}

// AuditConfigLoaded records that a configuration was loaded: where from
// (a path, or "<embedded example>") and the SHA-256 of its bytes. cmd
// calls it when muster starts (and on a reload).
func (s *Store) AuditConfigLoaded(ctx context.Context, source, sha256hex string) error {
	_, err := s.AppendAudit(ctx, KindConfigLoaded, "muster", "config", map[string]any{"source": source, "sha256": sha256hex})
	return err
}

// AuditHead is the chain head kept beside the stream: where the sealer
// got to, and what retention pruned.
type AuditHead struct {
	// Seq and Hash are the last sealed event's; ID is its stream id.
	Seq  int64
	Hash string
	ID   string
	// SealedAt is when the head was sealed; Sig its Ed25519 signature
	// (hex, "" when unsigned) over HeadStatement, Key the public key (hex)
	// it names.
	SealedAt time.Time
	Sig, Key string
	// PrunedTo and PrunedHash repeat the latest prune checkpoint: the
	// last pruned seq and its hash (0 and "" when nothing was pruned);
	// PrunedID is that event's stream id.
	PrunedTo   int64
	PrunedHash string
	PrunedID   string
}

// AuditHead reads the chain head.
func (s *Store) AuditHead(ctx context.Context) (AuditHead, error) {
	v, err := s.rdb.HMGet(s.carry(ctx), s.Key("audit:head"), "seq", "hash", "id", "at", "sig", "key", "pruned_to", "pruned_hash", "pruned_id").Result()
	if err != nil {
		return AuditHead{}, unavailable(err)
	}
	h := AuditHead{Seq: toInt(v[0]), Hash: toString(v[1]), ID: toString(v[2]), Sig: toString(v[4]), Key: toString(v[5]),
		PrunedTo: toInt(v[6]), PrunedHash: toString(v[7]), PrunedID: toString(v[8])}
	if at := toInt(v[3]); at > 0 {
		h.SealedAt = fromMS(at)
	}
	return h, nil
}

// chainStart is where the chain that is still in the stream begins: the
// seq and hash before its first event, and the stream id at or below
// which events are left over from a prune that stopped halfway (they were
// exported and checkpointed; they are not part of the chain).
func (h *AuditHead) chainStart() (seq int64, prev, skipTo string) {
	if h.PrunedTo > 0 {
		return h.PrunedTo, h.PrunedHash, h.PrunedID
	}
	return 0, AuditGenesis, ""
}

// leftover reports whether e is left over from a prune that stopped
// halfway.
func (h *AuditHead) leftover(e *AuditEvent) bool {
	if h.PrunedTo == 0 {
		return false
	}
	if h.PrunedID != "" {
		return compareStreamIDs(e.ID, h.PrunedID) <= 0
	}
	// A checkpoint written before events lost their chain fields: they
	// carry their seq.
	return e.SeqRaw != "" && e.Seq <= h.PrunedTo
}

// ScanAudit calls fn for every audit event after the stream id after
// ("" from the start), oldest first, reading in pages, with each event's
// seq, prev and hash computed as the chain defines them (the stored ones
// of an older event are replaced) and Sealed set for the events the head
// covers. The chain is computed from its start whatever after says. fn
// may stop the scan by returning an error, which ScanAudit returns.
func (s *Store) ScanAudit(ctx context.Context, after string, fn func(AuditEvent) error) error {
	head, err := s.AuditHead(ctx)
	if err != nil {
		return err
	}
	seq, prev, _ := head.chainStart()
	return s.scanStream(ctx, "audit", "", func(e AuditEvent) error {
		if head.leftover(&e) {
			return nil
		}
		seq++
		e.Seq, e.SeqRaw, e.Prev = seq, strconv.FormatInt(seq, 10), prev
		e.Hash = e.ComputeHash()
		prev = e.Hash
		e.Sealed = seq <= head.Seq
		if after != "" && compareStreamIDs(e.ID, after) <= 0 {
			return nil
		}
		return fn(e)
	})
}

// scanStream calls fn for every event of the stream key (audit or a
// stream of the same fields) after the id after ("" from the start), as
// stored, oldest first, in pages.
func (s *Store) scanStream(ctx context.Context, key, after string, fn func(AuditEvent) error) error {
	start := "-"
	if after != "" {
		start = "(" + after
	}
	for {
		msgs, err := s.rdb.XRangeN(s.carry(ctx), s.Key(key), start, "+", 1000).Result()
		if err != nil {
			return unavailable(err)
		}
		for _, m := range msgs {
			if err := fn(eventFromStream(m)); err != nil {
				return err
			}
		}
		if len(msgs) < 1000 {
			return nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

func eventFromStream(m redis.XMessage) AuditEvent {
	e := AuditEvent{
		ID: m.ID, SeqRaw: toString(m.Values["seq"]), AtMS: toString(m.Values["at"]),
		Kind: toString(m.Values["kind"]), Actor: toString(m.Values["actor"]), Subject: toString(m.Values["subject"]),
		Data: toString(m.Values["data"]), Prev: toString(m.Values["prev"]), Hash: toString(m.Values["hash"]),
	}
	e.Seq, _ = strconv.ParseInt(e.SeqRaw, 10, 64)
	e.At = fromMS(toInt(e.AtMS))
	return e
}

// compareStreamIDs orders two stream ids ("ms-seq").
func compareStreamIDs(a, b string) int {
	am, as, _ := strings.Cut(a, "-")
	bm, bs, _ := strings.Cut(b, "-")
	an, _ := strconv.ParseUint(am, 10, 64)
	bn, _ := strconv.ParseUint(bm, 10, 64)
	if an != bn {
		return cmp.Compare(an, bn)
	}
	asn, _ := strconv.ParseUint(as, 10, 64)
	bsn, _ := strconv.ParseUint(bs, 10, 64)
	return cmp.Compare(asn, bsn)
}

// AuditEvents returns the events whose time is in [from, to) (a zero
// bound is open), oldest first, with their chain fields (ScanAudit).
func (s *Store) AuditEvents(ctx context.Context, from, to time.Time) ([]AuditEvent, error) {
	var out []AuditEvent
	err := s.ScanAudit(ctx, "", func(e AuditEvent) error {
		if (!from.IsZero() && e.At.Before(from)) || (!to.IsZero() && !e.At.Before(to)) {
			return nil
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// Kinds of problem VerifyAudit reports: tampering, and a chain the
// sealer has fallen behind on.
const (
	TamperChanged   = "changed"
	TamperRemoved   = "removed"
	TamperInserted  = "inserted"
	TamperReordered = "reordered"
	// ProblemUnsealed: events wait unsealed for longer than they may
	// while a sealer runs (it is stuck or failing).
	ProblemUnsealed = "unsealed"
)

// AuditProblem is the first break in the chain.
type AuditProblem struct {
	// Kind is one of the Tamper kinds or ProblemUnsealed.
	Kind string
	// Seq is the event's sequence number (the first missing one for a
	// removal; for a reorder, the event found out of its place); 0 when
	// the event has none.
	Seq int64
	// Through is the last missing seq of a removal of several events.
	// For a reorder it is the seq of the place the event was found at.
	Through int64
	// ID is the stream id of the event (for a removal: of the event
	// after the gap, if any).
	ID string
	// Event names the event's kind and subject, when there is one.
	Event  string
	Detail string
}

func (p *AuditProblem) String() string {
	var what string
	switch {
	case p.Kind == TamperRemoved && p.Through > p.Seq:
		what = fmt.Sprintf("events seq %d to %d were removed", p.Seq, p.Through)
	case p.Kind == TamperRemoved:
		what = fmt.Sprintf("event seq %d was removed", p.Seq)
	case p.Kind == TamperReordered:
		what = fmt.Sprintf("event seq %d (stream id %s, %s) was reordered: it now stands at seq %d", p.Seq, p.ID, p.Event, p.Through)
	case p.Kind == ProblemUnsealed:
		what = "the chain is not sealed"
	case p.Seq > 0:
		what = fmt.Sprintf("event seq %d (stream id %s, %s) was %s", p.Seq, p.ID, p.Event, p.Kind)
	default:
		what = fmt.Sprintf("event at stream id %s (%s) was %s", p.ID, p.Event, p.Kind)
	}
	if p.Detail != "" {
		what += ": " + p.Detail
	}
	return what
}

// AuditVerification is the outcome of walking the chain.
type AuditVerification struct {
	// Events is how many sealed events were checked.
	Events int
	// FirstSeq and LastSeq bound the sealed events present.
	FirstSeq, LastSeq int64
	// Head is the hash of the last sealed event.
	Head string
	// PrunedTo is the last seq removed by retention (0: none).
	PrunedTo int64
	// Signed: the heads carry Ed25519 signatures. KeyChecked: they were
	// checked against a key the caller gave (else only against the key
	// each names). SignedBy is the key (hex) of the latest head.
	Signed, KeyChecked bool
	SignedBy           string
	// Seals is how many sealed batches were checked.
	Seals int
	// Unsealed counts the events after the head, which no seal covers
	// yet (appended in the last moment, or left by a stopped sealer);
	// UnsealedSince is when the oldest was appended.
	Unsealed      int
	UnsealedSince time.Time
	// SealerRunning: a process holds the sealer's lease.
	SealerRunning bool
	// SealLog counts the heads of a seal log checked against the chain;
	// SealLogPruned those that name events pruned since.
	SealLog, SealLogPruned int
	// Problem is the first break found; nil when the chain is intact.
	Problem *AuditProblem
}

// OK reports whether the chain verified.
func (v *AuditVerification) OK() bool { return v.Problem == nil }

// ChainVerifier checks audit events one at a time, oldest first, with
// one event of lookahead. Use NewChainVerifier, Add each event, then
// Finish.
type ChainVerifier struct {
	head    *AuditHead // nil: an export, with no head to compare
	started bool
	res     AuditVerification
	// lastSeq, lastHash and lastEv are the last accepted event;
	// prevHash is the hash before it.
	lastSeq            int64
	lastHash, prevHash string
	lastEv             *AuditEvent
	pending            *AuditEvent
	maxSeq             int64
	// checkAt/checkHash: after a prune that stopped halfway, the event at
	// seq checkAt must have hash checkHash.
	checkAt   int64
	checkHash string
	// cp is the latest prune checkpoint met in the chain.
	cp *PruneCheckpoint
}

// NewChainVerifier starts a walk. head is the chain head to compare the
// end of the chain with; nil verifies a contiguous run of events (an
// export) on its own, trusting its first prev.
func NewChainVerifier(head *AuditHead) *ChainVerifier {
	v := &ChainVerifier{head: head}
	if head != nil {
		v.res.PrunedTo = head.PrunedTo
	}
	return v
}

func (v *ChainVerifier) seen() int64 {
	if v.pending != nil && v.pending.Seq > v.maxSeq {
		return v.pending.Seq
	}
	return v.maxSeq
}

// Add checks the event before e (now that e is its lookahead) and keeps
// e. It returns false once a problem was found.
func (v *ChainVerifier) Add(e AuditEvent) bool {
	if v.res.Problem != nil {
		return false
	}
	if v.pending != nil {
		v.check(v.pending, &e)
	}
	v.pending = &e
	return v.res.Problem == nil
}

// Finish checks the last event and the head, and returns the outcome.
func (v *ChainVerifier) Finish() *AuditVerification {
	if v.res.Problem == nil && v.pending != nil {
		v.check(v.pending, nil)
		v.pending = nil
	}
	if v.res.Problem == nil && v.head != nil {
		v.checkHead()
	}
	v.res.LastSeq, v.res.Head = v.lastSeq, v.lastHash
	out := v.res
	return &out
}

func (v *ChainVerifier) fail(kind string, e *AuditEvent, detail string) {
	p := &AuditProblem{Kind: kind, Detail: detail}
	if e != nil {
		p.Seq, p.ID, p.Event = e.Seq, e.ID, strings.TrimSpace(e.Kind+" "+e.Subject)
	}
	v.res.Problem = p
}

func (v *ChainVerifier) removed(from, through int64, after *AuditEvent, detail string) {
	p := &AuditProblem{Kind: TamperRemoved, Seq: from, Through: through, Detail: detail}
	if after != nil {
		p.ID = after.ID
	}
	v.res.Problem = p
}

func (v *ChainVerifier) start(e *AuditEvent) {
	v.started = true
	v.res.FirstSeq = e.Seq
	h := v.head
	switch {
	case e.Seq == 1:
		v.lastSeq, v.lastHash = 0, AuditGenesis
	case h == nil:
		// An export may start anywhere: take its first link on trust.
		v.lastSeq, v.lastHash = e.Seq-1, e.Prev
	case h.PrunedTo > 0 && e.Seq-1 == h.PrunedTo:
		v.lastSeq, v.lastHash = h.PrunedTo, h.PrunedHash
	case h.PrunedTo > 0 && e.Seq-1 < h.PrunedTo:
		// A prune stopped halfway: the rest of the pruned range is still
		// here and must lead to the checkpoint's hash.
		v.lastSeq, v.lastHash = e.Seq-1, e.Prev
		v.checkAt, v.checkHash = h.PrunedTo, h.PrunedHash
	case h.PrunedTo > 0:
		v.removed(h.PrunedTo+1, e.Seq-1, e, fmt.Sprintf("the first event left is seq %d, but retention pruned only up to seq %d", e.Seq, h.PrunedTo))
	default:
		v.removed(1, e.Seq-1, e, fmt.Sprintf("the chain starts at seq %d and no prune checkpoint covers the events before it", e.Seq))
	}
}

func (v *ChainVerifier) check(e, next *AuditEvent) {
	if !e.Chained() {
		v.fail(TamperInserted, e, "it carries no seq or hash")
		return
	}
	if !v.started {
		if v.start(e); v.res.Problem != nil {
			return
		}
	}
	computed := e.ComputeHash()
	if e.Seq != v.lastSeq+1 || e.Prev != v.lastHash {
		switch {
		case e.Seq == 0:
			v.fail(TamperChanged, e, fmt.Sprintf("its seq %q is not a number", e.SeqRaw))
		case next != nil && next.Seq == v.lastSeq+1 && next.Prev == v.lastHash:
			v.fail(TamperInserted, e, fmt.Sprintf("the event after it links straight to seq %d", v.lastSeq))
		case v.lastEv != nil && e.Seq == v.lastSeq && e.Prev == v.prevHash && computed == e.Hash:
			// Two events claim the same place; the one accepted before
			// this one is the intruder (this one is linked to by the next
			// event, or is at least intact).
			v.fail(TamperInserted, v.lastEv, fmt.Sprintf("seq %d appears twice and the other one is intact", e.Seq))
		case e.Seq <= v.lastSeq:
			v.fail(TamperInserted, e, fmt.Sprintf("it repeats seq %d", e.Seq))
		case e.Seq > v.lastSeq+1:
			v.removed(v.lastSeq+1, e.Seq-1, e, fmt.Sprintf("the chain jumps from seq %d to seq %d", v.lastSeq, e.Seq))
		case computed != e.Hash:
			v.fail(TamperChanged, e, "its content does not match its hash")
		default:
			ev := v.lastEv
			if ev == nil {
				ev = &AuditEvent{Seq: v.lastSeq}
			}
			v.fail(TamperChanged, ev, fmt.Sprintf("seq %d recorded its hash as %s, but it is now %s", e.Seq, short(e.Prev), short(v.lastHash)))
		}
		return
	}
	if computed != e.Hash {
		if next != nil && next.Seq == e.Seq && next.Prev == v.lastHash {
			v.fail(TamperInserted, e, fmt.Sprintf("the event after it links straight to seq %d", v.lastSeq))
			return
		}
		v.fail(TamperChanged, e, "its content does not match its hash")
		return
	}
	if v.checkAt == e.Seq && e.Hash != v.checkHash {
		v.fail(TamperChanged, e, "its hash differs from the one the prune checkpoint recorded")
		return
	}
	if e.Kind == KindPruned {
		var cp PruneCheckpoint
		if json.Unmarshal([]byte(e.Data), &cp) == nil {
			v.cp = &cp
		}
	}
	v.prevHash, v.lastSeq, v.lastHash = v.lastHash, e.Seq, e.Hash
	v.lastEv = e
	v.maxSeq = max(v.maxSeq, e.Seq)
	v.res.Events++
}

func (v *ChainVerifier) checkHead() {
	h := v.head
	switch {
	case !v.started && h.Seq > 0:
		v.removed(h.PrunedTo+1, h.Seq, nil, fmt.Sprintf("the stream is empty but the chain head records seq %d", h.Seq))
	case !v.started:
	case h.Seq > v.lastSeq:
		v.removed(v.lastSeq+1, h.Seq, nil, fmt.Sprintf("the stream ends at seq %d but the chain head records seq %d", v.lastSeq, h.Seq))
	case h.Seq < v.lastSeq:
		v.fail(TamperInserted, v.lastEv, fmt.Sprintf("the chain head records seq %d as the last event", h.Seq))
	case h.Hash != v.lastHash:
		v.fail(TamperChanged, v.lastEv, fmt.Sprintf("the chain head records its hash as %s", short(h.Hash)))
	case h.PrunedTo > 0 && (v.cp == nil || v.cp.ToSeq != h.PrunedTo || v.cp.LastHash != h.PrunedHash):
		v.fail(TamperChanged, nil, fmt.Sprintf("the chain head says seq 1 to %d were pruned, but no checkpoint event in the chain records that", h.PrunedTo))
		v.res.Problem.Event = "chain head"
	}
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}

// PruneCheckpoint is the data of a records.pruned event: what a
// retention prune removed, and the hash the chain continues from.
type PruneCheckpoint struct {
	FromSeq  int64  `json:"from_seq"`
	ToSeq    int64  `json:"to_seq"`
	LastHash string `json:"last_hash"`
	LastID   string `json:"last_id"`
	// Before is the retention cut-off (RFC 3339, UTC).
	Before string `json:"before"`
	// Events, Incidents, Activations, Tasks, Drills, Actions count what
	// was removed.
	Events      int `json:"events"`
	Incidents   int `json:"incidents"`
	Activations int `json:"activations"`
	Tasks       int `json:"tasks"`
	Drills      int `json:"drills"`
	Actions     int `json:"actions"`
	// Export names the file the removed records were written to first,
	// and ExportSHA256 its digest.
	Export       string `json:"export"`
	ExportSHA256 string `json:"export_sha256"`
}
