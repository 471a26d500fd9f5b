// Package console is muster's terminal surface: type commands as a person
// of the config, see the replies, and see as "→" lines everything muster
// sends to others (chat posts, SMS, calls). Piped input runs one command a
// line, which makes the console a scripting and rehearsal tool too.
package console

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"

	"github.com/muster-ops/muster/commands"
	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/internal/logging"
	"github.com/muster-ops/muster/notify"
)

// Console reads commands and prints replies and outgoing messages.
type Console struct {
	svc *commands.Service
	cfg *configs.Config
	// wait blocks for d on the console's clock (":wait 5m").
	wait func(ctx context.Context, d time.Duration) error
	// settle, when set, blocks until what a command queued has been
	// delivered, so its "→" lines print before its reply.
	settle func(ctx context.Context)
	// mu guards out and as: replies and notifications come from
	// different goroutines.
	mu  sync.Mutex
	out io.Writer
	as  string
	// failed counts the lines refused or failed (a piped console's exit
	// status says whether there were any).
	failed atomic.Int64
}

// Options configure a Console.
type Options struct {
	Service *commands.Service
	// As is the person typing; the first coordinator when empty.
	As string
	// Wait blocks for a duration of console time; nil waits real time.
	Wait func(ctx context.Context, d time.Duration) error
	// Settle blocks until the messages a command queued went out.
	Settle func(ctx context.Context)
	Out    io.Writer
}

// New builds a Console. It fails when As names nobody.
func New(o Options) (*Console, error) {
	cfg := o.Service.Config()
	c := &Console{svc: o.Service, cfg: cfg, out: o.Out, as: o.As, wait: o.Wait, settle: o.Settle}
	if c.as == "" {
		if co := cfg.Coordinators(); len(co) > 0 {
			c.as = co[0].ID
		} else {
			c.as = cfg.People[0].ID
		}
	}
	if _, ok := cfg.Person(c.as); !ok {
		return nil, fmt.Errorf("--as %q: no such person in the config (people: %s)", c.as, peopleIDs(cfg))
	}
	if c.wait == nil {
		c.wait = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return c, nil
}

func peopleIDs(cfg *configs.Config) string {
	ids := make([]string, len(cfg.People))
	for i, p := range cfg.People {
		ids[i] = p.ID
	}
	return strings.Join(ids, ", ")
}

// As is the person currently typing.
func (c *Console) As() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.as
}

// Notify prints an outgoing message as one "→" line. The console is a
// chat surface and, when no SMS provider is configured, the SMS and voice
// provider too.
func (c *Console) Notify(_ context.Context, m notify.Message) (bool, error) {
	c.println(c.FormatMessage(m))
	return false, nil
}

var (
	_ notify.Notifier = (*Console)(nil)
	_ notify.Named    = (*Console)(nil)
)

// Name is the chat surface's name, under which the notify.Dispatcher
// records the messages the console took.
func (c *Console) Name() string { return "console" }

// FormatMessage renders an outgoing message the way the console shows it:
//
//	→ chat #harbour: INC-1 raised ...
//	→ chat @amara (Amara Okafor): T-3 ...
//	→ sms amara (***0101): T-3 ...
func (c *Console) FormatMessage(m notify.Message) string {
	text := strings.ReplaceAll(m.Text, "\n", " / ")
	switch {
	case m.Site != "":
		return fmt.Sprintf("→ %s #%s: %s", m.Channel, m.Site, text)
	case m.Channel == notify.Chat:
		name := m.To
		if p, ok := c.cfg.Person(m.To); ok {
			name = p.Name
		}
		return fmt.Sprintf("→ chat @%s (%s): %s", m.To, name, text)
	default:
		phone := ""
		if p, ok := c.cfg.Person(m.To); ok {
			phone = logging.MaskPhone(p.Phone)
		}
		return fmt.Sprintf("→ %s %s (%s): %s", m.Channel, m.To, phone, text)
	}
}

func (c *Console) println(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintln(c.out, s)
}

// Run reads commands from in until it ends or ctx is cancelled. Lines
// starting with ":" steer the console: ":as <person>", ":wait <duration>",
// ":quit". Lines starting with "#" are comments.
func (c *Console) Run(ctx context.Context, in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if err := ctx.Err(); err != nil {
			return nil
		}
		if quit := c.Line(ctx, sc.Text()); quit {
			return nil
		}
	}
	return sc.Err()
}

// Line runs one input line and prints the answer. It reports whether the
// line asked to quit.
func (c *Console) Line(ctx context.Context, line string) (quit bool) {
	line = strings.TrimSpace(line)
	switch {
	case line == "" || strings.HasPrefix(line, "#"):
		return false
	case strings.HasPrefix(line, ":"):
		return c.directive(ctx, line)
	}
	r := c.svc.Handle(ctx, commands.Request{Platform: commands.PlatformConsole, UserID: c.As(), Text: line})
	if c.settle != nil {
		c.settle(ctx)
	}
	if r.Error {
		c.failed.Add(1)
	}
	c.println(r.Text)
	return false
}

// Failed is how many lines so far were refused or failed: commands
// answered with an error and console directives that were wrong.
func (c *Console) Failed() int { return int(c.failed.Load()) }

func (c *Console) directive(ctx context.Context, line string) bool {
	f := strings.Fields(line)
	switch f[0] {
	case ":quit", ":q", ":exit":
		return true
	case ":as":
		if len(f) != 2 {
			c.failed.Add(1)
			c.println("Usage: :as <person id>")
			return false
		}
		p, ok := c.cfg.Person(strings.ToLower(f[1]))
		if !ok {
			c.failed.Add(1)
			c.println(fmt.Sprintf("No person %q. People: %s", f[1], peopleIDs(c.cfg)))
			return false
		}
		c.mu.Lock()
		c.as = p.ID
		c.mu.Unlock()
		c.println(fmt.Sprintf("Now typing as %s (%s, %s).", p.Name, p.ID, strings.Join(p.Roles, ", ")))
	case ":wait":
		if len(f) != 2 {
			c.failed.Add(1)
			c.println("Usage: :wait <duration>, e.g. :wait 3m")
			return false
		}
		d, err := configs.ParseDuration(f[1])
		if err != nil || d < 0 {
			c.failed.Add(1)
			c.println(fmt.Sprintf("%q is not a duration; try :wait 90s or :wait 5m", f[1]))
			return false
		}
		if err := c.wait(ctx, d); err != nil {
			return true
		}
	case ":help":
		c.println(":as <person> changes who is typing · :wait <duration> lets console time pass · :quit leaves · /muster help lists commands")
	default:
		c.failed.Add(1)
		c.println(fmt.Sprintf("Unknown console directive %s; try :as, :wait, :quit or :help", f[0]))
	}
	return false
}

// Interactive runs a prompt with line editing and history on a terminal
// (fd is its file descriptor). Notifications print above the prompt.
func (c *Console) Interactive(ctx context.Context, rw io.ReadWriter, fd int) error {
	state, err := term.MakeRaw(fd)
	if err != nil {
		return c.Run(ctx, rw)
	}
	defer term.Restore(fd, state)
	t := term.NewTerminal(rw, c.prompt())
	c.mu.Lock()
	c.out = t
	c.mu.Unlock()
	for {
		line, err := t.ReadLine()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if c.Line(ctx, line) || ctx.Err() != nil {
			return nil
		}
		t.SetPrompt(c.prompt())
	}
}

func (c *Console) prompt() string { return "muster (" + c.As() + ")> " }
