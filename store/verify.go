package store

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// VerifyOptions say what VerifyAudit checks the chain against.
type VerifyOptions struct {
	// Keys are the public keys a head may be signed with. With none, each
	// head is checked only against the key it names: that shows the chain
	// is consistent, not that it is yours.
	Keys []ed25519.PublicKey
	// SealLog are heads recorded outside Redis (ReadSealLog): each must
	// still be part of the chain, so a truncated stream is found.
	SealLog []SealRecord
	// MaxUnsealedAge is how long an event may wait unsealed while a
	// sealer runs before verification fails (default 1 minute).
	MaxUnsealedAge time.Duration
}

// SealerLease is the lease a sealer holds (notify.Sealer): while it is
// held, a sealer is expected to keep up.
const SealerLease = "audit-sealer"

// VerifyAudit recomputes the audit chain and checks it: every sealed
// event against the content digest its seal recorded (so a changed,
// removed, inserted or reordered event is named), the chain's hash at
// every seal and at the head, each seal's signature, and the seal log's
// heads. Events after the head are reported as unsealed; it is a problem
// when the oldest is older than MaxUnsealedAge while a sealer runs.
func (s *Store) VerifyAudit(ctx context.Context, o VerifyOptions) (*AuditVerification, error) {
	if o.MaxUnsealedAge <= 0 {
		o.MaxUnsealedAge = time.Minute
	}
	// The seals before the head: a seal written in between then shows as
	// a head ahead of the last seal, which is checked on its own.
	seals, err := s.AuditSeals(ctx)
	if err != nil {
		return nil, err
	}
	head, err := s.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	lease, err := s.LeaseHolder(ctx, SealerLease)
	if err != nil {
		return nil, err
	}
	v := &verifier{s: s, o: o, head: head, seals: seals}
	v.res.PrunedTo = head.PrunedTo
	v.res.SealerRunning = lease.Holder != ""
	if err := v.run(ctx); err != nil {
		return nil, err
	}
	return &v.res, nil
}

// verifier is one VerifyAudit walk.
type verifier struct {
	s     *Store
	o     VerifyOptions
	head  AuditHead
	seals []SealRecord
	res   AuditVerification

	// heads are the seals to check, the head last when no seal records
	// it; trustedTo is the last seq covered by valid signatures (all of
	// them when the chain is unsigned and no key was given).
	heads     []SealRecord
	trustedTo int64
	// badHead is the first head whose signature fails (nil: none).
	badHead *SealRecord
	// digest[seq-digestFrom] is the content digest sealed for seq.
	digestFrom int64
	digests    [][digestSize]byte
	// at[seq] is the chain's hash at each seq a seal or the seal log names.
	at map[int64]string
	// cp is the latest prune checkpoint met in the chain.
	cp *PruneCheckpoint
	// lines counts the incident timeline entries the events stand for.
	lines map[incidentLine]int
}

// incidentLine is one entry of an incident's timeline.
type incidentLine struct {
	ref               string
	at                int64
	actor, kind, text string
}

func lineOf(ref string, t TimelineEntry) incidentLine {
	return incidentLine{ref: ref, at: ms(t.At), actor: t.Actor, kind: t.Kind, text: t.Text}
}

func (l incidentLine) String() string {
	return fmt.Sprintf("%s timeline entry at %s (%s by %s: %q)", l.ref, fromMS(l.at).UTC().Format(time.RFC3339Nano), l.kind, l.actor, l.text)
}

func (v *verifier) fail(kind string, e *AuditEvent, detail string) {
	p := &AuditProblem{Kind: kind, Detail: detail}
	if e != nil {
		p.Seq, p.ID, p.Event = e.Seq, e.ID, strings.TrimSpace(e.Kind+" "+e.Subject)
	}
	v.res.Problem = p
}

func (v *verifier) run(ctx context.Context) error {
	v.planHeads()
	if v.res.Problem != nil {
		return nil
	}
	v.checkSignatures()
	v.planDigests()
	v.lines = map[incidentLine]int{}
	v.at = map[int64]string{}
	for _, h := range v.heads {
		v.at[h.Seq] = ""
	}
	for _, r := range v.o.SealLog {
		v.at[r.Seq] = ""
	}
	seq, prev, _ := v.head.chainStart()
	if seq > 0 {
		v.at[seq] = prev
	}
	var pending []AuditEvent // the unsealed tail, kept only to name its first
	errStop := errors.New("stop")
	err := v.s.scanStream(ctx, "audit", "", func(e AuditEvent) error {
		if v.head.leftover(&e) {
			return nil
		}
		seq++
		stored := e
		e.Seq, e.SeqRaw, e.Prev = seq, strconv.FormatInt(seq, 10), prev
		e.Hash = e.ComputeHash()
		if stored.Chained() && (stored.Seq != e.Seq || stored.Prev != e.Prev || stored.Hash != e.Hash) {
			v.storedMismatch(&stored, &e)
			return errStop
		}
		if seq <= v.head.Seq {
			if d, ok := v.digestOf(seq); ok && d != e.ContentDigest() {
				return v.classify(ctx, &e, errStop)
			}
			if seq > v.trustedTo {
				v.unsigned(&e)
				return errStop
			}
			if v.res.Events == 0 {
				v.res.FirstSeq = seq
			}
			v.res.Events++
			v.res.LastSeq, v.res.Head = seq, e.Hash
			if e.Kind == KindPruned {
				var cp PruneCheckpoint
				if json.Unmarshal([]byte(e.Data), &cp) == nil {
					v.cp = &cp
				}
			}
		} else {
			if v.res.Unsealed == 0 {
				v.res.UnsealedSince = e.At
				pending = append(pending, e)
			}
			v.res.Unsealed++
			if e.Kind == KindPruned && v.cp == nil {
				// A prune's checkpoint is appended with the head's record
				// of it; until sealed it is read from the tail.
				var cp PruneCheckpoint
				if json.Unmarshal([]byte(e.Data), &cp) == nil {
					v.cp = &cp
				}
			}
		}
		if _, ok := v.at[seq]; ok {
			v.at[seq] = e.Hash
		}
		if ref, t, ok := e.IncidentLine(); ok {
			v.lines[lineOf(ref, t)]++
		}
		prev = e.Hash
		return nil
	})
	if errors.Is(err, errStop) {
		return nil
	}
	if err != nil {
		return err
	}
	if v.res.Problem != nil {
		return nil
	}
	v.checkEnd(seq)
	if v.res.Problem == nil {
		v.checkSealLog(seq)
	}
	if v.res.Problem == nil {
		if err := v.checkIncidentTimelines(ctx); err != nil {
			return err
		}
	}
	if v.res.Problem == nil && v.res.Unsealed > 0 && v.res.SealerRunning {
		if age := v.s.now().Sub(v.res.UnsealedSince); age > v.o.MaxUnsealedAge {
			e := pending[0]
			v.fail(ProblemUnsealed, &e, fmt.Sprintf("%d events wait unsealed, the oldest (seq %d, %s %s) for %s, while a sealer runs: it is stuck or failing",
				v.res.Unsealed, e.Seq, e.Kind, e.Subject, age.Round(time.Second)))
		}
	}
	return nil
}

// planHeads lists the seals to check, oldest first, with the head last
// when no seal records it (it was moved by someone who wrote no seal, or
// sealed after the seals were read). A head behind the last seal was
// moved back.
func (v *verifier) planHeads() {
	for _, r := range v.seals {
		if r.Seq > v.head.PrunedTo {
			v.heads = append(v.heads, r)
		}
	}
	h := v.head
	var last *SealRecord
	if n := len(v.heads); n > 0 {
		last = &v.heads[n-1]
	}
	switch {
	case h.Seq == 0 && last != nil:
		v.res.Problem = &AuditProblem{Kind: TamperRemoved, Seq: 1, Through: last.Seq, Event: "chain head",
			Detail: fmt.Sprintf("the chain head was removed, but seals up to seq %d exist", last.Seq)}
		return
	case h.Seq == 0:
		return
	case last != nil && last.Seq > h.Seq:
		v.res.Problem = &AuditProblem{Kind: TamperRemoved, Seq: h.Seq + 1, Through: last.Seq, Event: "chain head",
			Detail: fmt.Sprintf("the chain head records seq %d, but it was sealed up to seq %d: the head was moved back", h.Seq, last.Seq)}
		return
	case last != nil && last.Seq == h.Seq && last.Hash == h.Hash && last.Sig == h.Sig:
		return // the head is the last seal
	}
	from := h.PrunedTo + 1
	if last != nil && last.Seq == h.Seq {
		// The head disagrees with the seal at its seq: it stands in
		// for it.
		from = last.From
		v.heads = v.heads[:len(v.heads)-1]
	} else if last != nil {
		from = last.Seq + 1
	}
	v.heads = append(v.heads, SealRecord{Namespace: v.s.ns, From: from, Seq: h.Seq, Hash: h.Hash, ID: h.ID,
		SealedMS: ms(h.SealedAt), Sig: h.Sig, Key: h.Key})
}

// checkSignatures finds how far valid signatures reach (trustedTo): the
// last head signed by a given key (without keys, by the key it names).
// A signed head vouches for every event before it, through the chain;
// the events after the last one are not vouched for. A chain with no
// signature at all, checked without a key, is taken on its hashes alone.
func (v *verifier) checkSignatures() {
	v.res.KeyChecked = len(v.o.Keys) > 0
	v.res.Seals = len(v.heads)
	v.trustedTo = v.head.PrunedTo
	for _, r := range v.heads {
		v.res.Signed = v.res.Signed || r.Sig != ""
	}
	if n := len(v.heads); n > 0 {
		v.res.SignedBy = v.heads[n-1].Key
	}
	if !v.res.Signed && !v.res.KeyChecked {
		v.trustedTo = v.head.Seq
		return
	}
	v.badHead = nil
	for i := range v.heads {
		r := &v.heads[i]
		if r.Sig != "" && r.VerifySig(v.o.Keys) {
			v.trustedTo, v.badHead = r.Seq, nil
		} else if v.badHead == nil {
			v.badHead = r
		}
	}
}

// planDigests lays out the content digests the seals recorded, by seq.
func (v *verifier) planDigests() {
	if len(v.heads) == 0 {
		return
	}
	v.digestFrom = v.head.PrunedTo + 1
	for _, r := range v.heads {
		if len(r.digests) != int(r.Seq-r.From+1)*digestSize {
			continue
		}
		for seq := r.From; seq <= r.Seq; seq++ {
			if seq < v.digestFrom {
				continue
			}
			i := int(seq - v.digestFrom)
			for len(v.digests) <= i {
				v.digests = append(v.digests, [digestSize]byte{})
			}
			copy(v.digests[i][:], r.digests[(seq-r.From)*digestSize:])
		}
	}
}

func (v *verifier) digestOf(seq int64) ([digestSize]byte, bool) {
	i := seq - v.digestFrom
	if i < 0 || i >= int64(len(v.digests)) || v.digests[i] == ([digestSize]byte{}) {
		return [digestSize]byte{}, false
	}
	return v.digests[i], true
}

// unsigned reports e, the first event no valid signature covers.
func (v *verifier) unsigned(e *AuditEvent) {
	r := v.badHead
	why := "no valid signature covers it"
	switch {
	case r == nil:
	case r.Sig == "" && v.res.KeyChecked:
		why = fmt.Sprintf("the head at seq %d that covers it is not signed", r.Seq)
	case v.res.KeyChecked:
		why = fmt.Sprintf("the head at seq %d that covers it is not signed by the given key (its signature does not verify)", r.Seq)
	default:
		why = fmt.Sprintf("the head at seq %d that covers it has a signature that does not verify with the key it names", r.Seq)
	}
	v.fail(TamperInserted, e, why)
}

// storedMismatch reports an event written with its chain fields (before
// sealing moved to Go) whose fields disagree with the chain.
func (v *verifier) storedMismatch(stored, e *AuditEvent) {
	switch {
	case stored.Seq > e.Seq:
		v.res.Problem = &AuditProblem{Kind: TamperRemoved, Seq: e.Seq, Through: stored.Seq - 1, ID: e.ID,
			Detail: fmt.Sprintf("the chain jumps from seq %d to seq %d", e.Seq-1, stored.Seq)}
	case stored.Seq < e.Seq:
		v.fail(TamperInserted, e, fmt.Sprintf("it carries seq %d, already taken", stored.Seq))
	default:
		v.fail(TamperChanged, e, "its content or link does not match the hash it carries")
	}
}

// classify names what happened at e, the first event whose content is not
// what its seal recorded for its place: reading on from it, it tells a
// change from a removal, an insertion or a reorder by where the recorded
// and the found contents turn up.
func (v *verifier) classify(ctx context.Context, e *AuditEvent, stop error) error {
	// found[digest] is the first place, from e on, where each content
	// turns up in the stream.
	found := map[[digestSize]byte]int64{}
	var next *AuditEvent
	seq := e.Seq - 1
	err := v.s.scanStream(ctx, "audit", prevID(e.ID), func(x AuditEvent) error {
		seq++
		x.Seq = seq
		d := x.ContentDigest()
		if _, ok := found[d]; !ok {
			found[d] = seq
		}
		if seq == e.Seq+1 {
			next = &x
		}
		return nil
	})
	if err != nil {
		return err
	}
	want, _ := v.digestOf(e.Seq)
	got := e.ContentDigest()
	sealedAt := int64(0) // where e's content was sealed, if anywhere
	for i := range v.digests {
		if v.digests[i] == got {
			sealedAt = v.digestFrom + int64(i)
			break
		}
	}
	wantAt, wantFound := found[want]
	switch {
	case sealedAt > e.Seq && wantFound:
		// Both the expected and the found content are here, out of their
		// places.
		e2 := *e
		e2.Seq = sealedAt
		v.fail(TamperReordered, &e2, fmt.Sprintf("the event sealed as seq %d now comes after it, at seq %d", e.Seq, wantAt))
		v.res.Problem.Through = e.Seq
	case sealedAt > e.Seq:
		v.res.Problem = &AuditProblem{Kind: TamperRemoved, Seq: e.Seq, Through: sealedAt - 1, ID: e.ID,
			Detail: fmt.Sprintf("the event sealed as seq %d (%s %s) follows seq %d", sealedAt, e.Kind, e.Subject, e.Seq-1)}
	case sealedAt > 0 && sealedAt < e.Seq:
		v.fail(TamperInserted, e, fmt.Sprintf("it repeats seq %d", sealedAt))
	case next != nil && next.ContentDigest() == want:
		v.fail(TamperInserted, e, fmt.Sprintf("the event after it is the one sealed as seq %d", e.Seq))
	default:
		v.fail(TamperChanged, e, "its content does not match what was sealed")
	}
	return stop
}

// prevID is the stream id just before id, for a scan that starts at id.
func prevID(id string) string {
	ms, seq, _ := strings.Cut(id, "-")
	n, _ := strconv.ParseUint(seq, 10, 64)
	if n > 0 {
		return ms + "-" + strconv.FormatUint(n-1, 10)
	}
	m, _ := strconv.ParseUint(ms, 10, 64)
	if m == 0 {
		return ""
	}
	return strconv.FormatUint(m-1, 10) + "-18446744073709551615"
}

// checkEnd checks the chain against the seals and the head once every
// event was read: last is the seq of the last event.
func (v *verifier) checkEnd(last int64) {
	h := v.head
	if last < h.Seq {
		v.res.Problem = &AuditProblem{Kind: TamperRemoved, Seq: last + 1, Through: h.Seq,
			Detail: fmt.Sprintf("the stream ends at seq %d but the chain was sealed up to seq %d", last, h.Seq)}
		return
	}
	for _, r := range v.heads {
		if got := v.at[r.Seq]; got != r.Hash {
			v.res.Problem = &AuditProblem{Kind: TamperChanged, Seq: r.From, Through: r.Seq, Event: "seal",
				Detail: fmt.Sprintf("events seq %d to %d do not lead to the hash sealed at seq %d", r.From, r.Seq, r.Seq)}
			return
		}
	}
	if h.PrunedTo > 0 && (v.cp == nil || v.cp.ToSeq != h.PrunedTo || v.cp.LastHash != h.PrunedHash) {
		v.res.Problem = &AuditProblem{Kind: TamperChanged, Event: "chain head",
			Detail: fmt.Sprintf("the chain head says seq 1 to %d were pruned, but no checkpoint event in the chain records that", h.PrunedTo)}
	}
}

// checkSealLog checks every head of the seal log against the chain: last
// is the seq of the last event.
func (v *verifier) checkSealLog(last int64) {
	for _, r := range v.o.SealLog {
		if r.Namespace != "" && r.Namespace != v.s.ns {
			continue
		}
		if r.Sig != "" || v.res.KeyChecked {
			rr := r
			rr.Namespace = v.s.ns
			if !rr.VerifySig(v.o.Keys) {
				v.res.Problem = &AuditProblem{Kind: TamperChanged, Seq: r.Seq, Event: "seal log",
					Detail: fmt.Sprintf("the seal log's head at seq %d is not validly signed", r.Seq)}
				return
			}
		}
		switch {
		case r.Seq < v.head.PrunedTo:
			v.res.SealLogPruned++
			continue
		case r.Seq > last:
			v.res.Problem = &AuditProblem{Kind: TamperRemoved, Seq: last + 1, Through: r.Seq,
				Detail: fmt.Sprintf("the seal log records seq %d sealed at %s, but the chain ends at seq %d",
					r.Seq, fromMS(r.SealedMS).UTC().Format(time.RFC3339), last)}
			return
		}
		if got := v.at[r.Seq]; got != r.Hash {
			v.res.Problem = &AuditProblem{Kind: TamperChanged, Seq: r.Seq, Event: "seal log",
				Detail: fmt.Sprintf("the seal log records the chain's hash at seq %d as %s, but it is now %s", r.Seq, short(r.Hash), short(got))}
			return
		}
		v.res.SealLog++
	}
}

// checkIncidentTimelines checks every incident's timeline (a stream kept
// for /incident show) against the audit events: each entry must be one
// an event stands for, and each such event must have its entry. Entries
// older than a prune's cut-off may have lost their events.
func (v *verifier) checkIncidentTimelines(ctx context.Context) error {
	s := v.s
	var before time.Time
	if v.cp != nil {
		before, _ = time.Parse(time.RFC3339, v.cp.Before)
	}
	nums, err := s.rdb.ZRange(s.carry(ctx), s.Key("incidents"), 0, -1).Result()
	if err != nil {
		return unavailable(err)
	}
	exists := map[string]bool{}
	for len(nums) > 0 {
		n := min(len(nums), 500)
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.XMessageSliceCmd, n)
		for i, num := range nums[:n] {
			exists["INC-"+num] = true
			cmds[i] = pipe.XRange(ctx, s.Key("incident", num, "timeline"), "-", "+")
		}
		if _, err := pipe.Exec(s.carry(ctx)); err != nil && !errors.Is(err, redis.Nil) {
			return unavailable(err)
		}
		for i, c := range cmds {
			for _, t := range timelineEntries(c.Val()) {
				l := lineOf("INC-"+nums[i], t)
				if v.lines[l] > 0 {
					v.lines[l]--
					continue
				}
				if t.At.Before(before) {
					continue
				}
				v.res.Problem = &AuditProblem{Kind: TamperChanged, Event: l.ref + " timeline",
					Detail: "the " + l.String() + " is not what any audit event records"}
				return nil
			}
		}
		nums = nums[n:]
	}
	for l, n := range v.lines {
		if n > 0 && exists[l.ref] {
			v.res.Problem = &AuditProblem{Kind: TamperRemoved, Event: l.ref + " timeline",
				Detail: "the " + l.String() + " that an audit event records is missing from it"}
			return nil
		}
	}
	return nil
}
