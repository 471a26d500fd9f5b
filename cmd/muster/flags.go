package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// command is one subcommand's flag set with its synopsis, so that every
// subcommand answers --help the same way: the synopsis and every flag,
// written with two dashes, on stdout, exit 0.
type command struct {
	name     string // "serve"
	synopsis string // the usage line(s) after "Usage:"
	about    string // what it does, one paragraph
	fs       *flag.FlagSet
}

func newCommand(name, synopsis, about string) *command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse reports errors itself
	fs.Usage = func() {}
	return &command{name: name, synopsis: synopsis, about: about, fs: fs}
}

// parse parses args. It reports ok=false with the exit code when the
// command should stop: 0 after printing --help to stdout, 2 after an
// unknown or malformed flag (the error and the usage on stderr).
func (c *command) parse(args []string, stdout, stderr io.Writer) (code int, ok bool) {
	err := c.fs.Parse(args)
	switch {
	case err == nil:
		return 0, true
	case errors.Is(err, flag.ErrHelp):
		c.usage(stdout)
		return 0, false
	default:
		fmt.Fprintf(stderr, "muster %s: %v\n\n", c.name, err)
		c.usage(stderr)
		return 2, false
	}
}

// usage writes the synopsis, what the command does and every flag.
func (c *command) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage:\n%s\n", indent(c.synopsis))
	if c.about != "" {
		fmt.Fprintf(w, "\n%s\n", c.about)
	}
	fmt.Fprintln(w, "\nFlags:")
	c.fs.VisitAll(func(f *flag.Flag) {
		arg, help := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if arg != "" {
			line += " " + strings.ToUpper(arg)
		}
		fmt.Fprintf(w, "%-24s %s", line, help)
		if f.DefValue != "" && f.DefValue != "false" && !strings.Contains(help, "default") {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
	fmt.Fprintf(w, "%-24s %s\n", "  --help", "this help")
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}
