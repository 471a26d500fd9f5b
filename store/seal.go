package store

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Sealing: the transition scripts append audit events without hashing
// them (lua/prelude.lua, audit()). An AuditSealer, one at a time per
// organization under a lease (notify.Sealer runs it on every `muster
// serve`), reads the events appended since the head, computes their
// chain in Go, and writes the new head in one script that first checks
// the head has not moved (audit_seal.lua). Each head is signed with
// Ed25519 when a key is configured, so someone who can write to Redis but
// does not hold the key cannot append, change or remove an event and
// recompute a head that verifies.

// AuditKey signs chain heads: an Ed25519 key from a 32-byte seed.
type AuditKey struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
}

// ParseAuditKey reads a signing key from its seed, 64 hex digits (what
// MUSTER_AUDIT_KEY holds). The error never repeats the input.
func ParseAuditKey(seedHex string) (*AuditKey, error) {
	seed, err := hex.DecodeString(strings.TrimSpace(seedHex))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, errors.New("the audit signing key must be a 32-byte seed written as 64 hex digits")
	}
	priv := ed25519.NewKeyFromSeed(seed)
	return &AuditKey{priv: priv, pub: priv.Public().(ed25519.PublicKey)}, nil
}

// Public is the key's public half.
func (k *AuditKey) Public() ed25519.PublicKey { return k.pub }

// PublicHex is the public key as 64 hex digits (what `muster audit
// public-key` prints and `audit verify --public-key` takes).
func (k *AuditKey) PublicHex() string { return hex.EncodeToString(k.pub) }

// ParsePublicKey reads an Ed25519 public key written as 64 hex digits.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("a public key is 64 hex digits (32 bytes), not %q", s)
	}
	return ed25519.PublicKey(b), nil
}

// HeadStatement is the exact message a head's signature covers: the
// namespace (so one organization's head cannot stand for another's), the
// seq and hash the chain reached, and when it was sealed (ms).
func HeadStatement(namespace string, seq int64, hash string, sealedMS int64) []byte {
	return fmt.Appendf(nil, "muster audit head v1\nnamespace %s\nseq %d\nhash %s\nsealed %d\n", namespace, seq, hash, sealedMS)
}

// digestSize is how many bytes of an event's content digest a seal keeps:
// enough to name which event was changed, removed, inserted or moved (the
// chain's full hashes are what proves it).
const digestSize = 8

// ContentDigest is the first bytes of the SHA-256 of an event's content
// (time, kind, actor, subject, data), without its place in the chain, so
// an event moved elsewhere is still recognised.
func (e *AuditEvent) ContentDigest() [digestSize]byte {
	b := make([]byte, 0, 64+len(e.Kind)+len(e.Actor)+len(e.Subject)+len(e.Data))
	b = append(b, `{"at":`...)
	b = append(b, e.AtMS...)
	for _, f := range []struct{ k, v string }{{"kind", e.Kind}, {"actor", e.Actor}, {"subject", e.Subject}, {"data", e.Data}} {
		b = append(b, ',', '"')
		b = append(b, f.k...)
		b = append(b, '"', ':')
		b = appendCanonicalString(b, f.v)
	}
	b = append(b, '}')
	sum := sha256.Sum256(b)
	var d [digestSize]byte
	copy(d[:], sum[:])
	return d
}

// SealRecord is one sealed head, as a line of the seal log (JSON) and as
// read back from Redis.
type SealRecord struct {
	Namespace string `json:"namespace"`
	// From is the first seq this seal covers (the one after the previous
	// seal); Seq and Hash are where the chain got to, ID that event's
	// stream id.
	From int64  `json:"from"`
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
	ID   string `json:"id"`
	// SealedMS is when it was sealed (ms since the epoch).
	SealedMS int64 `json:"sealed_ms"`
	// Sig is the Ed25519 signature over HeadStatement, Key the public key
	// that made it (both hex; "" when unsigned).
	Sig string `json:"sig,omitempty"`
	Key string `json:"key,omitempty"`
	// digests are the content digests of events From..Seq (Redis only).
	digests []byte
}

// Statement is what the record's signature covers.
func (r *SealRecord) Statement() []byte { return HeadStatement(r.Namespace, r.Seq, r.Hash, r.SealedMS) }

// VerifySig reports whether the record is signed by one of keys; with no
// keys, by the key it names.
func (r *SealRecord) VerifySig(keys []ed25519.PublicKey) bool {
	sig, err := hex.DecodeString(r.Sig)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return false
	}
	if len(keys) == 0 {
		k, err := ParsePublicKey(r.Key)
		if err != nil {
			return false
		}
		keys = []ed25519.PublicKey{k}
	}
	for _, k := range keys {
		if ed25519.Verify(k, r.Statement(), sig) {
			return true
		}
	}
	return false
}

// ErrHeadTampered: the chain head in Redis is not one a sealer wrote
// (its signature does not verify, or it lost the signature it had), so
// the sealer will not sign anything on top of it.
var ErrHeadTampered = errors.New("the audit chain head was changed outside muster")

var sealScript = loadScript("audit_seal")

// AuditSealer seals one organization's audit chain. Only one should run
// at a time (notify.Sealer holds a lease); the seal script refuses a head
// that moved since it was read, so a second one does no harm. It is safe
// for concurrent use.
type AuditSealer struct {
	st  *Store
	key *AuditKey
	log string
	// Batch is the most events one seal covers (default 1000).
	Batch int

	// mu guards last: the head this sealer wrote last, which the head in
	// Redis must still match or have moved on from by this sealer's hand.
	mu   sync.Mutex
	last *AuditHead
}

// NewAuditSealer builds a sealer for st. key may be nil (heads are then
// unsigned); sealLog, when not empty, is a file every sealed head is
// appended to.
func (s *Store) NewAuditSealer(key *AuditKey, sealLog string) *AuditSealer {
	return &AuditSealer{st: s, key: key, log: sealLog, Batch: 1000}
}

// Seal seals every event appended since the head, in batches, and
// returns how many it sealed.
func (a *AuditSealer) Seal(ctx context.Context) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	total := 0
	for {
		n, err := a.sealBatch(ctx)
		total += n
		if err != nil || n < a.Batch {
			return total, err
		}
	}
}

func (a *AuditSealer) sealBatch(ctx context.Context) (int, error) {
	s := a.st
	head, err := s.AuditHead(ctx)
	if err != nil {
		return 0, err
	}
	if err := a.checkHead(ctx, &head); err != nil {
		return 0, err
	}
	start := "-"
	if head.ID != "" {
		start = "(" + head.ID
	}
	msgs, err := s.rdb.XRangeN(s.carry(ctx), s.Key("audit"), start, "+", int64(max(a.Batch, 1))).Result()
	if err != nil {
		return 0, unavailable(err)
	}
	seq, prev := head.Seq, head.Hash
	if seq == 0 {
		var skip string
		seq, prev, skip = head.chainStart()
		for len(msgs) > 0 && skip != "" && compareStreamIDs(msgs[0].ID, skip) <= 0 {
			msgs = msgs[1:]
		}
	}
	if len(msgs) == 0 {
		return 0, nil
	}
	rec := SealRecord{Namespace: s.ns, From: seq + 1, digests: make([]byte, 0, len(msgs)*digestSize)}
	for _, m := range msgs {
		e := eventFromStream(m)
		seq++
		e.Seq, e.SeqRaw, e.Prev = seq, strconv.FormatInt(seq, 10), prev
		prev = e.ComputeHash()
		d := e.ContentDigest()
		rec.digests = append(rec.digests, d[:]...)
		rec.ID = e.ID
	}
	rec.Seq, rec.Hash, rec.SealedMS = seq, prev, ms(s.now())
	if a.key != nil {
		rec.Key = a.key.PublicHex()
		rec.Sig = hex.EncodeToString(ed25519.Sign(a.key.priv, rec.Statement()))
	}
	_, err = s.run(ctx, sealScript, head.ID, strconv.FormatInt(head.Seq, 10), rec.From, rec.Seq, rec.Hash, rec.ID,
		rec.SealedMS, rec.Sig, rec.Key, string(rec.digests))
	if err != nil {
		return 0, fmt.Errorf("seal the audit chain: %w", err)
	}
	a.last = &AuditHead{Seq: rec.Seq, Hash: rec.Hash, ID: rec.ID, Sig: rec.Sig, Key: rec.Key, SealedAt: fromMS(rec.SealedMS)}
	if a.log != "" {
		if err := AppendSealLog(a.log, rec); err != nil {
			return len(msgs), err
		}
	}
	return len(msgs), nil
}

// checkHead refuses to seal on top of a head this sealer cannot vouch
// for: one whose signature does not verify, an unsigned one where signed
// seals exist, or one behind (or beside) the head this sealer last wrote.
func (a *AuditSealer) checkHead(ctx context.Context, h *AuditHead) error {
	if last := a.last; last != nil && (h.Seq < last.Seq || (h.Seq == last.Seq && h.Hash != last.Hash)) {
		return fmt.Errorf("%w: it records seq %d, but this sealer sealed up to seq %d", ErrHeadTampered, h.Seq, last.Seq)
	}
	if h.Seq == 0 {
		return nil
	}
	if h.Sig != "" {
		r := SealRecord{Namespace: a.st.ns, Seq: h.Seq, Hash: h.Hash, SealedMS: ms(h.SealedAt), Sig: h.Sig, Key: h.Key}
		if !r.VerifySig(nil) {
			return fmt.Errorf("%w: its signature (seq %d) does not verify", ErrHeadTampered, h.Seq)
		}
		return nil
	}
	if a.key == nil {
		return nil
	}
	// An unsigned head is where a chain starts being signed, unless a
	// signed seal exists: then someone took the signature off.
	last, err := a.st.rdb.XRevRangeN(ctx, a.st.Key("audit:seals"), "+", "-", 1).Result()
	if err != nil {
		return unavailable(err)
	}
	if len(last) > 0 && toString(last[0].Values["sig"]) != "" {
		return fmt.Errorf("%w: it is unsigned, but the seal before it (seq %s) was signed", ErrHeadTampered, toString(last[0].Values["to"]))
	}
	return nil
}

// AuditSeals reads every seal, oldest first.
func (s *Store) AuditSeals(ctx context.Context) ([]SealRecord, error) {
	var out []SealRecord
	start := "-"
	for {
		msgs, err := s.rdb.XRangeN(s.carry(ctx), s.Key("audit:seals"), start, "+", 1000).Result()
		if err != nil {
			return nil, unavailable(err)
		}
		for _, m := range msgs {
			out = append(out, sealFromStream(s.ns, m))
		}
		if len(msgs) < 1000 {
			return out, nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

func sealFromStream(ns string, m redis.XMessage) SealRecord {
	return SealRecord{Namespace: ns, From: toInt(m.Values["from"]), Seq: toInt(m.Values["to"]), Hash: toString(m.Values["hash"]),
		ID: toString(m.Values["id"]), SealedMS: toInt(m.Values["at"]), Sig: toString(m.Values["sig"]), Key: toString(m.Values["key"]),
		digests: []byte(toString(m.Values["d"]))}
}

// sealLogMu serialises appends to seal logs within this process.
var sealLogMu sync.Mutex

// AppendSealLog appends one sealed head to the seal log at path (JSON
// Lines), creating the file when needed.
func AppendSealLog(path string, r SealRecord) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	sealLogMu.Lock()
	defer sealLogMu.Unlock()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("seal log: %w", err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		_ = f.Close()
		return fmt.Errorf("seal log %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("seal log %s: %w", path, err)
	}
	return nil
}

// ReadSealLog reads a seal log: every head recorded in it, in order.
func ReadSealLog(r io.Reader) ([]SealRecord, error) {
	var out []SealRecord
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var rec SealRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("seal log line %d: %w", line, err)
		}
		if rec.Seq <= 0 || len(rec.Hash) != 64 {
			return nil, fmt.Errorf("seal log line %d: no seq and hash", line)
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read seal log: %w", err)
	}
	return out, nil
}
