package configs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds the loader arbitrary bytes, starting from the example
// and every fixture. Parse must never panic; what it refuses it refuses
// with Errors; and what it accepts, Validate must accept too.
func FuzzParse(f *testing.F) {
	f.Add(ExampleYAML())
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "fuzz.yaml")
		if err != nil {
			if cfg != nil {
				t.Fatalf("Parse returned a config along with %v", err)
			}
			var probs Errors
			if !errors.As(err, &probs) || len(probs) == 0 {
				t.Fatalf("Parse failed with %T %q, want non-empty configs.Errors", err, err)
			}
			for _, p := range probs {
				if p.Source != "fuzz.yaml" || p.Msg == "" || p.Line < 0 {
					t.Fatalf("malformed problem %#v", p)
				}
			}
			return
		}
		if cfg == nil {
			t.Fatal("Parse returned neither a config nor an error")
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Parse accepted the config, Validate refuses it:\n%v", err)
		}
	})
}
