// Package journal is degraded mode's local record: while Redis is
// unreachable, commands still send a triggered plan's broadcast and SMS
// call-out directly and append what they did here, one JSON line per
// activation (a store.DegradedActivation), fsync'd before the command
// answers. When Redis answers again, Run replays every entry into the
// records and the audit log through store.ReplayDegraded, which writes each
// entry at most once (a SET NX marker per entry id), so a replay that is
// interrupted, repeated, or run by two replicas over copies of one journal
// records each activation exactly once.
//
// Files, for a journal at path P:
//
//	P                      the active journal: Append adds lines here
//	P.<stamp>.pending      taken out of P by a replay; replayed, or retried
//	                       by the next replay when Redis failed halfway
//	P.<stamp>.replayed     replayed completely; kept for people to read
//
// Taking P aside before replaying (a rename, under the same lock as
// Append) means a line appended during a replay lands in a fresh P and is
// never lost in a rotation.
package journal

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/muster-ops/muster/store"
)

// Entry is one journal line: one degraded activation.
type Entry = store.DegradedActivation

// Records is what a replay needs of the store (*store.Store).
type Records interface {
	Ping(ctx context.Context) error
	ReplayDegraded(ctx context.Context, d store.DegradedActivation) (store.ReplayResult, error)
}

var _ Records = (*store.Store)(nil)

// DefaultInterval is how often Run checks for Redis and a journal to
// replay.
const DefaultInterval = 5 * time.Second

// replayTimeout bounds one Ping and one entry's replay.
const replayTimeout = 5 * time.Second

// Options configure a Journal.
type Options struct {
	// Path is the journal file (server.journal); its directory must exist.
	Path string
	// Records receives the replay; only Run and Replay need it.
	Records Records
	// Interval between Run's checks; DefaultInterval when 0.
	Interval time.Duration
	// Now is the clock for ids and file stamps; time.Now when nil.
	Now    func() time.Time
	Logger *zap.Logger
}

// Journal is one process's degraded-mode journal. It is safe for
// concurrent use.
type Journal struct {
	path     string
	records  Records
	interval time.Duration
	now      func() time.Time
	log      *zap.Logger
	host     string

	// mu guards the active file: appends and taking it aside.
	mu sync.Mutex
	// replaying serialises replays.
	replaying sync.Mutex
	// seenMu serialises appends to the replay memory; seen is what Open
	// read of it.
	seenMu sync.Mutex
	seen   map[string]time.Time
}

// Open checks that the journal can be written and returns it. The file is
// created by the first Append.
func Open(o Options) (*Journal, error) {
	if o.Path == "" {
		return nil, errors.New("journal: no path (server.journal)")
	}
	j := &Journal{path: o.Path, records: o.Records, interval: o.Interval, now: o.Now, log: o.Logger}
	if j.interval <= 0 {
		j.interval = DefaultInterval
	}
	if j.now == nil {
		j.now = time.Now
	}
	if j.log == nil {
		j.log = zap.NewNop()
	}
	j.host, _ = os.Hostname()
	if err := j.probe(); err != nil {
		return nil, fmt.Errorf("journal: %s cannot be written: %w", j.path, err)
	}
	if err := j.loadSeen(); err != nil {
		return nil, fmt.Errorf("journal: %s: %w", j.SeenPath(), err)
	}
	return j, nil
}

// probe checks now, not in an emergency, that the journal can be
// written: the file itself when it exists, else a probe file beside it
// (removed again, so a process that never degrades leaves no file).
func (j *Journal) probe() error {
	p, flags := j.path, os.O_WRONLY|os.O_APPEND
	if _, err := os.Stat(j.path); errors.Is(err, fs.ErrNotExist) {
		p, flags = j.path+".probe", os.O_WRONLY|os.O_CREATE|os.O_TRUNC
		defer os.Remove(p)
	}
	f, err := os.OpenFile(p, flags, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// Path is the active journal file.
func (j *Journal) Path() string { return j.path }

// NewID returns a fresh entry id: the time, then random bits, so ids of
// different replicas never collide and sort by time.
func (j *Journal) NewID() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	return "dg-" + j.now().UTC().Format("20060102T150405.000Z") + "-" + hex.EncodeToString(b[:])
}

// Append writes e as one line and fsyncs it. It fills in e.ID and e.Host
// when empty and returns the entry as written.
func (j *Journal) Append(e Entry) (Entry, error) {
	if e.ID == "" {
		e.ID = j.NewID()
	}
	if e.Host == "" {
		e.Host = j.host
	}
	line, err := json.Marshal(e)
	if err != nil {
		return e, fmt.Errorf("journal: encode %s: %w", e.ID, err)
	}
	line = append(line, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return e, fmt.Errorf("journal: %w", err)
	}
	_, werr := f.Write(line)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return e, fmt.Errorf("journal: append %s: %w", e.ID, err)
	}
	// The file may be new (a replay took the last one aside): make its
	// directory entry durable too.
	if err := syncDir(filepath.Dir(j.path)); err != nil {
		return e, fmt.Errorf("journal: append %s: %w", e.ID, err)
	}
	return e, nil
}

// Pending lists the entries not yet replayed, oldest file first.
func (j *Journal) Pending() ([]Entry, error) {
	// Under j.mu, as takeAside renames: listing the pending files and then
	// reading the active one must not straddle that rename, or an entry
	// moved in between is in neither.
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []Entry
	files, err := j.pendingFiles()
	if err != nil {
		return nil, err
	}
	for _, p := range append(files, j.path) {
		es, _, err := readEntries(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	return out, nil
}

// Result counts what one Replay did.
type Result struct {
	// Recorded entries were written to the records now; Already had been
	// written before (by an earlier replay or another replica).
	Recorded, Already int
	// Bad lines could not be read (a line torn by a crash mid-write) or
	// were refused by the store for their content; they are logged and
	// kept in the replayed file.
	Bad int
	// Activations are the A-n of the entries replayed, in order.
	Activations []string
}

// Replay records every entry not yet replayed, then renames each file it
// finished to *.replayed. It stops at the first entry Redis fails on and
// returns that error: the file stays pending and the next Replay starts it
// again (the entries it had recorded are recognised by their markers).
func (j *Journal) Replay(ctx context.Context) (Result, error) {
	var res Result
	if j.records == nil {
		return res, errors.New("journal: no records to replay into")
	}
	j.replaying.Lock()
	defer j.replaying.Unlock()
	if err := j.takeAside(); err != nil {
		return res, err
	}
	files, err := j.pendingFiles()
	if err != nil {
		return res, err
	}
	for _, p := range files {
		entries, bad, err := readEntries(p)
		if err != nil {
			return res, err
		}
		for _, b := range bad {
			j.log.Error("journal line unreadable; kept in the file, not replayed", zap.String("file", p), zap.Int("line", b.line), zap.Error(b.err))
		}
		res.Bad += len(bad)
		for _, e := range entries {
			ectx, cancel := context.WithTimeout(ctx, replayTimeout)
			r, err := j.records.ReplayDegraded(ectx, e)
			cancel()
			switch {
			case errors.Is(err, store.ErrUnavailable):
				return res, fmt.Errorf("journal: replay %s: %w", e.ID, err)
			case err != nil:
				// The store refused the entry itself (a marker left by a
				// failed script, a missing field): retrying cannot help.
				j.log.Error("journal entry not replayed", zap.String("id", e.ID), zap.Error(err))
				res.Bad++
				continue
			case r.Fresh:
				res.Recorded++
				j.log.Info("degraded activation recorded", zap.String("id", e.ID), zap.String("activation", r.Activation),
					zap.String("plan", e.Plan), zap.String("site", e.Site), zap.Int("tasks", len(r.Tasks)))
			default:
				res.Already++
			}
			res.Activations = append(res.Activations, r.Activation)
		}
		done := strings.TrimSuffix(p, ".pending") + ".replayed"
		if err := os.Rename(p, done); err != nil {
			return res, fmt.Errorf("journal: %w", err)
		}
		if err := syncDir(filepath.Dir(p)); err != nil {
			return res, fmt.Errorf("journal: %w", err)
		}
	}
	return res, nil
}

// takeAside renames a non-empty active file to P.<stamp>.pending.
func (j *Journal) takeAside() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	fi, err := os.Stat(j.path)
	if errors.Is(err, fs.ErrNotExist) || err == nil && fi.Size() == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	to := j.path + "." + j.now().UTC().Format("20060102T150405.000000000Z") + ".pending"
	if _, err := os.Stat(to); err == nil {
		to = strings.TrimSuffix(to, ".pending") + "-" + j.NewID() + ".pending"
	}
	if err := os.Rename(j.path, to); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return syncDir(filepath.Dir(j.path))
}

// pendingFiles lists P.*.pending, oldest first (the stamps sort).
func (j *Journal) pendingFiles() ([]string, error) {
	m, err := filepath.Glob(globEscape(j.path) + ".*.pending")
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	slices.Sort(m)
	return m, nil
}

// globEscape escapes the glob metacharacters of a literal path.
func globEscape(p string) string {
	var b strings.Builder
	for _, r := range p {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// badLine is a line that could not be decoded.
type badLine struct {
	line int
	err  error
}

// maxLine bounds one journal line (an activation with its tasks).
const maxLine = 4 << 20

// readEntries decodes a journal file, line by line.
func readEntries(path string) ([]Entry, []badLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var (
		out []Entry
		bad []badLine
	)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil {
			bad = append(bad, badLine{n, err})
			continue
		}
		if e.ID == "" {
			bad = append(bad, badLine{n, errors.New("no id")})
			continue
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return out, bad, fmt.Errorf("journal: read %s: %w", path, err)
	}
	return out, bad, nil
}

// syncDir fsyncs a directory, so a created or renamed file survives a
// crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// hasWork reports whether there is anything to replay, without reading it.
func (j *Journal) hasWork() bool {
	if fi, err := os.Stat(j.path); err == nil && fi.Size() > 0 {
		return true
	}
	files, _ := j.pendingFiles()
	return len(files) > 0
}

// Run replays the journal whenever there is something in it and Redis
// answers, checking at once and then every interval, until ctx ends. It
// logs when a replay fails and again only when the error changes.
func (j *Journal) Run(ctx context.Context) error {
	if j.records == nil {
		return errors.New("journal: no records to replay into")
	}
	t := time.NewTicker(j.interval)
	defer t.Stop()
	last := ""
	for {
		if j.hasWork() {
			err := j.tryReplay(ctx)
			switch {
			case err == nil:
				last = ""
			case ctx.Err() != nil:
			case err.Error() != last:
				last = err.Error()
				j.log.Warn("journal not replayed yet; retrying", zap.Duration("every", j.interval), zap.Error(err))
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// tryReplay pings Redis, then replays.
func (j *Journal) tryReplay(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, replayTimeout)
	err := j.records.Ping(pctx)
	cancel()
	if err != nil {
		return err
	}
	res, err := j.Replay(ctx)
	if res.Recorded+res.Already+res.Bad > 0 {
		j.log.Info("journal replayed", zap.Int("recorded", res.Recorded), zap.Int("already_recorded", res.Already),
			zap.Int("bad", res.Bad), zap.Strings("activations", res.Activations))
	}
	return err
}

// The replay memory. While Redis is unreachable, the store settles a
// signed request's replay check from the process's own memory
// (store/seen.go) and writes each request it let through here, at
// P.seen, one JSON line each, fsync'd before the command goes on, so a
// process restarted during the outage still refuses a copy. Open reads
// it back (Seen) and keeps only the lines not yet expired.

// seenLine is one line of P.seen.
type seenLine struct {
	Key   string    `json:"key"`
	Until time.Time `json:"until"`
}

var _ store.SeenLog = (*Journal)(nil)

// SeenPath is the replay memory's file.
func (j *Journal) SeenPath() string { return j.path + ".seen" }

// AppendSeen records that the request remembered under key (a replay
// guard's key) must be refused until until. It returns once the line is
// on disk.
func (j *Journal) AppendSeen(key string, until time.Time) error {
	line, err := json.Marshal(seenLine{Key: key, Until: until.UTC()})
	if err != nil {
		return fmt.Errorf("journal: encode seen: %w", err)
	}
	line = append(line, '\n')
	j.seenMu.Lock()
	defer j.seenMu.Unlock()
	f, err := os.OpenFile(j.SeenPath(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	_, werr := f.Write(line)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("journal: append seen: %w", err)
	}
	return nil
}

// Seen is the replay memory read at Open: key -> until, unexpired only.
func (j *Journal) Seen() map[string]time.Time { return j.seen }

// loadSeen reads P.seen, keeps its unexpired lines and rewrites it with
// only those (or removes it when none are left).
func (j *Journal) loadSeen() error {
	j.seen = map[string]time.Time{}
	raw, err := os.ReadFile(j.SeenPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	now := j.now()
	var keep bytes.Buffer
	for _, line := range bytes.Split(raw, []byte("\n")) {
		var l seenLine
		if len(bytes.TrimSpace(line)) == 0 || json.Unmarshal(line, &l) != nil || l.Key == "" || !now.Before(l.Until) {
			continue
		}
		j.seen[l.Key] = l.Until
		keep.Write(line)
		keep.WriteByte('\n')
	}
	if keep.Len() == 0 {
		return os.Remove(j.SeenPath())
	}
	tmp := j.SeenPath() + ".tmp"
	if err := os.WriteFile(tmp, keep.Bytes(), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, j.SeenPath())
}
