package configs

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:embed example.yaml
var exampleYAML []byte

// ExampleSource names the embedded example in messages.
const ExampleSource = "configs/example.yaml (embedded)"

// Example returns the embedded example configuration, which is muster's
// default when no file is given.
func Example() (*Config, error) { return Parse(exampleYAML, ExampleSource) }

// ExampleYAML returns the embedded example's text.
func ExampleYAML() []byte { return bytes.Clone(exampleYAML) }

// Load reads, decodes and validates the file at path. A config with
// problems fails with Errors, listing every problem found; a file that
// cannot be read fails with the read error, wrapped.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, path)
}

// Problem is one thing wrong with a config: where, and what.
type Problem struct {
	Source string // file name
	Line   int    // 0 when unknown
	Path   string // field path, e.g. people[3].phone; may be empty
	Msg    string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.Source)
	if p.Line > 0 {
		b.WriteString(":" + strconv.Itoa(p.Line))
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Errors is every problem of one config, in file order.
type Errors []Problem

func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, p := range e {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Parse decodes YAML strictly (unknown keys and wrong types fail with
// their line), applies defaults and validates. source names the input in
// messages.
func Parse(data []byte, source string) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Errors{syntaxProblem(source, err)}
	}
	cfg := &Config{Source: source}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, Errors{syntaxProblem(source, err)}
		}
		probs := make(Errors, 0, len(te.Errors))
		for _, msg := range te.Errors {
			probs = append(probs, decodeProblem(source, msg))
		}
		return nil, probs
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		p := Problem{Source: source, Line: extra.Line, Msg: "more than one YAML document; muster reads one"}
		if err != nil {
			p = syntaxProblem(source, err)
		}
		return nil, Errors{p}
	}
	cfg.applyDefaults()
	if probs := cfg.validate(indexLines(&root)); len(probs) > 0 {
		return nil, probs
	}
	cfg.indexPeople()
	return cfg, nil
}

var (
	lineRE     = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	notFoundRE = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
	unmarshRE  = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (\\S+)$")
)

// decodeProblem turns one of yaml.v3's "line N: ..." messages into a
// Problem with friendlier words.
func decodeProblem(source, msg string) Problem {
	p := Problem{Source: source, Msg: msg}
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Msg = m[2]
	}
	if m := notFoundRE.FindStringSubmatch(p.Msg); m != nil {
		p.Msg = fmt.Sprintf("unknown key %q", m[1])
	} else if m := unmarshRE.FindStringSubmatch(p.Msg); m != nil {
		what := kindWord(m[1]) // !!seq and !!map come without a value
		if m[1] != "seq" && m[1] != "map" {
			what += fmt.Sprintf(" %q", m[2])
		}
		p.Msg = fmt.Sprintf("%s where %s was expected", what, typeWord(m[3]))
	}
	return p
}

func syntaxProblem(source string, err error) Problem {
	return decodeProblem(source, strings.TrimPrefix(err.Error(), "yaml: "))
}

func kindWord(tag string) string {
	switch tag {
	case "str":
		return "text"
	case "seq":
		return "a list"
	case "map":
		return "a mapping"
	case "int", "float":
		return "number"
	case "bool":
		return "true/false"
	}
	return tag
}

func typeWord(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case goType == "int" || goType == "float64":
		return "a number"
	case goType == "bool":
		return "true or false"
	case goType == "string":
		return "text"
	case strings.HasPrefix(goType, "configs."):
		return "a mapping (" + strings.ToLower(strings.TrimPrefix(goType, "configs.")) + ")"
	}
	return goType
}

// indexLines maps every field path (people[3].phone) of the document to
// the line it starts on, so Validate's errors can name lines too.
func indexLines(root *yaml.Node) map[string]int {
	idx := map[string]int{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		if path != "" {
			if _, seen := idx[path]; !seen {
				idx[path] = n.Line
			}
		}
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				key := n.Content[i].Value
				p := key
				if path != "" {
					p = path + "." + key
				}
				idx[p] = n.Content[i].Line
				walk(n.Content[i+1], p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
	walk(root, "")
	// "" is the document itself, for problems with a missing top-level key.
	idx[""] = 1
	if len(root.Content) > 0 && root.Content[0].Line > 0 {
		idx[""] = root.Content[0].Line
	}
	return idx
}
