package report

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/store"
)

// CLIUsage lists the record commands RunCLI runs.
const CLIUsage = `  muster audit verify [--public-key HEX] [--seal-log FILE] [--file EXPORT.jsonl]
  muster audit public-key
  muster audit export [--from DATE] [--to DATE] [--format jsonl|csv] [--out FILE]
  muster report incident INC-n [--format md|html] [--out FILE]
  muster report activation A-n [--format md|html] [--out FILE]
  muster report drill D-n [--format md|html] [--out FILE]
  muster report rollcall R-n [--format md|html] [--out FILE]
  muster report checkins --from DATE --to DATE [--format md|html] [--out FILE]
  muster report review --from DATE --to DATE [--site S] [--format md|html|csv] [--out FILE]
  muster records prune [--out FILE] [--dry-run]
Each also takes --config FILE and --redis URL. A DATE is YYYY-MM-DD in the
organization's timezone (--to includes that whole day) or an RFC 3339
instant (--to is then exclusive).
`

// GlobalFlags takes --config and --redis (as "--config FILE" or
// "--config=FILE", anywhere in args) out of a record command line, for
// main to open the config and the store with; rest is for RunCLI.
func GlobalFlags(args []string) (cfgPath, redisURL string, rest []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		for _, name := range []string{"config", "redis"} {
			var v string
			matched := false
			for _, p := range []string{"-" + name, "--" + name} {
				if a == p && i+1 < len(args) {
					v, matched = args[i+1], true
					i++
				} else if val, ok := strings.CutPrefix(a, p+"="); ok {
					v, matched = val, true
				}
				if matched {
					break
				}
			}
			if matched {
				if name == "config" {
					cfgPath = v
				} else {
					redisURL = v
				}
				a = ""
				break
			}
		}
		if a != "" {
			rest = append(rest, a)
		}
	}
	return cfgPath, redisURL, rest
}

// RunCLI runs one record command (args start with audit, report or
// records) and returns the process exit code: 0 done (for audit verify:
// the chain is intact), 1 failed (for audit verify: tampering found), 2 a
// usage error.
func RunCLI(ctx context.Context, args []string, cfg *configs.Config, st *store.Store, stdout, stderr io.Writer) int {
	c := &cli{b: New(cfg, st), cfg: cfg, st: st, stdout: stdout, stderr: stderr}
	err := c.run(ctx, args)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errTampered):
		return 1
	case errors.Is(err, ErrUsage):
		fmt.Fprintf(stderr, "muster: %v\n\nUsage:\n%s", err, CLIUsage)
		return 2
	default:
		fmt.Fprintf(stderr, "muster: %v\n", err)
		return 1
	}
}

var errTampered = errors.New("audit chain broken")

type cli struct {
	b              *Builder
	cfg            *configs.Config
	st             *store.Store
	stdout, stderr io.Writer
}

func usagef(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, a...))
}

func (c *cli) run(ctx context.Context, args []string) error {
	if len(args) < 2 {
		return usagef("say what to do")
	}
	switch args[0] + " " + args[1] {
	case "audit verify":
		return c.verify(ctx, args[2:])
	case "audit public-key":
		return c.publicKey(args[2:])
	case "audit export":
		return c.export(ctx, args[2:])
	case "report incident", "report activation", "report drill", "report rollcall":
		return c.record(ctx, args[1], args[2:])
	case "report checkins":
		return c.checkins(ctx, args[2:])
	case "report review":
		return c.review(ctx, args[2:])
	case "records prune":
		return c.prune(ctx, args[2:])
	}
	return usagef("unknown command %q", strings.Join(args[:2], " "))
}

// parse parses flags that may come before or after the positional
// arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usagef("%v", err)
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// output opens --out (or stdout) and returns a closer that reports the
// write error.
func (c *cli) output(path string) (io.Writer, func() error, error) {
	if path == "" || path == "-" {
		return c.stdout, func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open output: %w", err)
	}
	return f, func() error {
		if err := f.Sync(); err != nil {
			_ = f.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
		return f.Close()
	}, nil
}

// keys is a flag that may be given several times (a key rotated: the
// old and the new).
type keys []ed25519.PublicKey

func (k *keys) String() string { return fmt.Sprint(len(*k)) }

func (k *keys) Set(v string) error {
	pk, err := store.ParsePublicKey(v)
	if err != nil {
		return err
	}
	*k = append(*k, pk)
	return nil
}

// signingKey reads the audit signing key from the variable the config
// names; nil when it is not set.
func (c *cli) signingKey() (*store.AuditKey, error) {
	secrets, err := c.cfg.SecretsFromEnv(nil)
	if err != nil {
		return nil, err
	}
	seed := secrets.AuditKey
	if seed == "" {
		return nil, nil
	}
	k, err := store.ParseAuditKey(seed)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.cfg.Records.SigningKeyEnv, err)
	}
	return k, nil
}

func (c *cli) publicKey(args []string) error {
	if len(args) > 0 {
		return usagef("audit public-key takes no arguments")
	}
	k, err := c.signingKey()
	if err != nil {
		return err
	}
	if k == nil {
		return usagef("%s is not set: it holds the audit signing key (64 hex digits)", c.cfg.Records.SigningKeyEnv)
	}
	fmt.Fprintln(c.stdout, k.PublicHex())
	return nil
}

func (c *cli) verify(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	file := fs.String("file", "", "verify an export (JSON Lines) instead of the live log")
	var trusted keys
	fs.Var(&trusted, "public-key", "the public key (64 hex digits) the heads must be signed with; may be repeated")
	sealLog := fs.String("seal-log", "", "a seal log (records.seal_log) whose heads must still be in the chain")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("audit verify takes no arguments")
	}
	if *file != "" {
		v, err := verifyFile(*file)
		if err != nil {
			return err
		}
		if !v.OK() {
			fmt.Fprintf(c.stdout, "FAIL: %s\n", v.Problem)
			fmt.Fprintf(c.stdout, "%d events verified before it.\n", v.Events)
			return errTampered
		}
		fmt.Fprintf(c.stdout, "ok %d events\n", v.Events)
		if v.Events > 0 {
			fmt.Fprintf(c.stdout, "seq %d to %d, head sha256 %s\n", v.FirstSeq, v.LastSeq, v.Head)
		}
		return nil
	}
	opts := store.VerifyOptions{Keys: trusted}
	if len(opts.Keys) == 0 {
		// The key muster signs with, when this machine has it.
		k, err := c.signingKey()
		if err != nil {
			return err
		}
		if k != nil {
			opts.Keys = append(opts.Keys, k.Public())
		}
	}
	if *sealLog != "" {
		f, err := os.Open(*sealLog)
		if err != nil {
			return fmt.Errorf("seal log: %w", err)
		}
		opts.SealLog, err = store.ReadSealLog(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", *sealLog, err)
		}
	}
	v, err := c.st.VerifyAudit(ctx, opts)
	if err != nil {
		return err
	}
	if !v.OK() {
		fmt.Fprintf(c.stdout, "FAIL: %s\n", v.Problem)
		fmt.Fprintf(c.stdout, "%d sealed events verified before it.\n", v.Events)
		return errTampered
	}
	fmt.Fprintf(c.stdout, "ok %d sealed events\n", v.Events)
	if v.Events > 0 {
		fmt.Fprintf(c.stdout, "seq %d to %d, head sha256 %s", v.FirstSeq, v.LastSeq, v.Head)
		if v.PrunedTo > 0 {
			fmt.Fprintf(c.stdout, "; seq 1 to %d pruned under retention (checkpointed)", v.PrunedTo)
		}
		fmt.Fprintln(c.stdout)
	}
	switch {
	case v.Signed && v.KeyChecked:
		fmt.Fprintf(c.stdout, "signed: every head checked against the public key %s\n", hex.EncodeToString(opts.Keys[0]))
	case v.Signed:
		fmt.Fprintf(c.stdout, "signed by %s, not checked against a key you trust: pass --public-key\n", v.SignedBy)
	case v.Events > 0:
		fmt.Fprintf(c.stdout, "unsigned chain: whoever can write to Redis could rewrite it unseen; set %s for `muster serve`\n", c.cfg.Records.SigningKeyEnv)
	}
	if v.Unsealed > 0 {
		fmt.Fprintf(c.stdout, "%d events not sealed yet, the oldest appended %s ago", v.Unsealed, c.st.Now().Sub(v.UnsealedSince).Round(time.Second))
		if !v.SealerRunning {
			fmt.Fprint(c.stdout, "; no sealer is running (a `muster serve` seals within a second)")
		}
		fmt.Fprintln(c.stdout)
	}
	if *sealLog != "" {
		fmt.Fprintf(c.stdout, "seal log: %d heads found in the chain", v.SealLog)
		if v.SealLogPruned > 0 {
			fmt.Fprintf(c.stdout, ", %d name events pruned since", v.SealLogPruned)
		}
		fmt.Fprintln(c.stdout)
	}
	return nil
}

// verifyFile checks an export made by audit export (JSON Lines), or the
// audit lines of a prune export: the run of events must be unbroken; its
// first link is taken on trust.
func verifyFile(path string) (*store.AuditVerification, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open export: %w", err)
	}
	defer f.Close()
	v := store.NewChainVerifier(nil)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		var rec struct {
			store.ExportEvent
			Type  string             `json:"type"`
			Event *store.ExportEvent `json:"event"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		x := rec.ExportEvent
		switch {
		case rec.Event != nil:
			x = *rec.Event
		case rec.Type != "":
			continue // a record of a prune export
		}
		if !v.Add(x.Event()) {
			break
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return v.Finish(), nil
}

// parseDate reads YYYY-MM-DD (local midnight; with end, the midnight
// after it) or RFC 3339.
func (c *cli) parseDate(s string, end bool) (time.Time, error) {
	if t, err := time.ParseInLocation("2006-01-02", s, c.cfg.Location()); err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usagef("%q is not a date: write YYYY-MM-DD or an RFC 3339 time", s)
	}
	return t, nil
}

func (c *cli) export(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("audit export", flag.ContinueOnError)
	from := fs.String("from", "", "first day (YYYY-MM-DD) or instant")
	to := fs.String("to", "", "last day (YYYY-MM-DD, included) or instant (excluded)")
	format := fs.String("format", "jsonl", "jsonl or csv")
	out := fs.String("out", "", "file to write (default: standard output)")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("audit export takes no arguments")
	}
	var lo, hi time.Time
	var err error
	if *from != "" {
		if lo, err = c.parseDate(*from, false); err != nil {
			return err
		}
	}
	if *to != "" {
		if hi, err = c.parseDate(*to, true); err != nil {
			return err
		}
	}
	if *format != "jsonl" && *format != "csv" {
		return usagef("--format must be jsonl or csv")
	}
	w, done, err := c.output(*out)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	var cw *csv.Writer
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	if *format == "csv" {
		cw = csv.NewWriter(bw)
		_ = cw.Write([]string{"seq", "id", "time", "at_ms", "kind", "actor", "subject", "data", "prev", "hash"})
	}
	n := 0
	err = c.st.ScanAudit(ctx, "", func(e store.AuditEvent) error {
		if (!lo.IsZero() && e.At.Before(lo)) || (!hi.IsZero() && !e.At.Before(hi)) {
			return nil
		}
		n++
		x := e.Export()
		if cw != nil {
			return cw.Write([]string{x.Seq, x.ID, x.Time, x.AtMS, x.Kind, x.Actor, x.Subject, x.Data, x.Prev, x.Hash})
		}
		return enc.Encode(x)
	})
	if cw != nil {
		cw.Flush()
		if err == nil {
			err = cw.Error()
		}
	}
	if err == nil {
		err = bw.Flush()
	}
	if cerr := done(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("audit export: %w", err)
	}
	if *out != "" {
		fmt.Fprintf(c.stderr, "%d events written to %s\n", n, *out)
	}
	return nil
}

func (c *cli) render(doc *Doc, format, out string, allowCSV bool) error {
	w, done, err := c.output(out)
	if err != nil {
		return err
	}
	switch {
	case format == "md" || format == "markdown":
		err = doc.Markdown(w)
	case format == "html":
		err = doc.HTML(w)
	case format == "csv" && allowCSV:
		err = doc.CSV(w)
	default:
		_ = done()
		if allowCSV {
			return usagef("--format must be md, html or csv")
		}
		return usagef("--format must be md or html")
	}
	if cerr := done(); err == nil {
		err = cerr
	}
	return err
}

func (c *cli) record(ctx context.Context, kind string, args []string) error {
	fs := flag.NewFlagSet("report "+kind, flag.ContinueOnError)
	format := fs.String("format", "md", "md or html")
	out := fs.String("out", "", "file to write (default: standard output)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	prefix := map[string]string{"incident": "INC", "activation": "A", "drill": "D", "rollcall": "R"}[kind]
	if len(pos) != 1 {
		return usagef("report %s %s-n", kind, prefix)
	}
	num, err := store.ParseID(prefix, pos[0])
	if err != nil {
		return usagef("%v", err)
	}
	var doc *Doc
	switch kind {
	case "incident":
		doc, err = c.b.Incident(ctx, num)
	case "activation":
		doc, err = c.b.Activation(ctx, num)
	case "rollcall":
		doc, err = c.b.RollCall(ctx, num)
	default:
		doc, err = c.b.Drill(ctx, num)
	}
	if err != nil {
		return err
	}
	return c.render(doc, *format, *out, false)
}

// periodOpts are a report's --from and --to.
type periodOpts struct{ from, to *string }

// periodFlags declares --from and --to on fs.
func periodFlags(fs *flag.FlagSet) periodOpts {
	return periodOpts{
		from: fs.String("from", "", "first day (YYYY-MM-DD) or instant (required)"),
		to:   fs.String("to", "", "last day (YYYY-MM-DD, included) or instant (excluded) (required)"),
	}
}

// period parses --from and --to, both required by cmd: --to names the
// last day included, or an instant excluded.
func (c *cli) period(p periodOpts, cmd string) (lo, hi time.Time, err error) {
	if *p.from == "" || *p.to == "" {
		return lo, hi, usagef("%s needs --from and --to", cmd)
	}
	if lo, err = c.parseDate(*p.from, false); err != nil {
		return lo, hi, err
	}
	hi, err = c.parseDate(*p.to, true)
	return lo, hi, err
}

// checkins writes the lone-worker check-ins report of the sessions
// started from --from to --to.
func (c *cli) checkins(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("report checkins", flag.ContinueOnError)
	p := periodFlags(fs)
	format := fs.String("format", "md", "md or html")
	out := fs.String("out", "", "file to write (default: standard output)")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("report checkins takes no arguments")
	}
	lo, hi, err := c.period(p, "report checkins")
	if err != nil {
		return err
	}
	if *format != "md" && *format != "markdown" && *format != "html" {
		return usagef("--format must be md or html")
	}
	doc, err := c.b.Checkins(ctx, lo, hi)
	if err != nil {
		return err
	}
	return c.render(doc, *format, *out, false)
}

func (c *cli) review(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("report review", flag.ContinueOnError)
	p := periodFlags(fs)
	site := fs.String("site", "", "only this site")
	format := fs.String("format", "md", "md, html or csv")
	out := fs.String("out", "", "file to write (default: standard output)")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("report review takes no arguments")
	}
	lo, hi, err := c.period(p, "report review")
	if err != nil {
		return err
	}
	s := strings.TrimPrefix(*site, "@")
	if s != "" {
		if _, ok := c.cfg.Site(s); !ok {
			return usagef("unknown site %q", s)
		}
	}
	// The audit chain is checked as `muster audit verify` checks it: with
	// the key muster signs with, when this machine has it.
	opts := ReviewOptions{From: lo, To: hi, Site: s}
	k, err := c.signingKey()
	if err != nil {
		return err
	}
	if k != nil {
		opts.Verify.Keys = append(opts.Verify.Keys, k.Public())
	}
	r, err := c.b.Review(ctx, opts)
	if err != nil {
		return err
	}
	return c.render(c.b.ReviewDoc(r), *format, *out, true)
}

func (c *cli) prune(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("records prune", flag.ContinueOnError)
	out := fs.String("out", "", "export file for what is removed (default: muster-pruned-<time>.jsonl)")
	dry := fs.Bool("dry-run", false, "say what would be removed; change nothing")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("records prune takes no arguments")
	}
	now := c.st.Now()
	before := now.Add(-c.cfg.Records.Retention.D())
	plan, err := c.st.PlanPrune(ctx, before)
	if err != nil {
		return err
	}
	summary := fmt.Sprintf("%d incidents, %d activations, %d tasks, %d drills, %d corrective actions and %d audit events older than %s (retention %s)",
		len(plan.Incidents), len(plan.Activations), len(plan.Tasks), len(plan.Drills), len(plan.Actions), len(plan.Events),
		before.In(c.cfg.Location()).Format("2006-01-02 15:04 MST"), c.cfg.Records.Retention)
	held := ""
	if len(plan.Held) > 0 {
		held = "; kept on legal hold: " + strings.Join(plan.Held, ", ")
	}
	if *dry || plan.Empty() {
		verb := "would remove"
		if plan.Empty() {
			verb = "nothing to remove:"
		}
		fmt.Fprintf(c.stdout, "%s %s%s\n", verb, summary, held)
		return nil
	}
	path := *out
	if path == "" {
		path = "muster-pruned-" + now.UTC().Format("20060102T150405Z") + ".jsonl"
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("records prune: export file: %w", err)
	}
	h := sha256.New()
	err = c.st.WritePruneExport(ctx, plan, io.MultiWriter(f, h))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("records prune: nothing removed, the export failed: %w", err)
	}
	digest := hex.EncodeToString(h.Sum(nil))
	cp, err := c.st.ApplyPrune(ctx, plan, "muster", path, digest)
	if err != nil {
		return fmt.Errorf("records prune (export kept in %s): %w", path, err)
	}
	fmt.Fprintf(c.stdout, "removed %s%s\nexport: %s (sha256 %s)\n", summary, held, path, digest)
	if cp.ToSeq > 0 {
		fmt.Fprintf(c.stdout, "audit checkpoint: seq %d to %d pruned, last hash %s\n", cp.FromSeq, cp.ToSeq, cp.LastHash)
	}
	return nil
}
