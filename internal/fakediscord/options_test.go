package fakediscord

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCommandOptionsChecked(t *testing.T) {
	_, srv := newFake(t)
	path := "/api/v10/applications/" + testApp + "/commands"
	sub := func(opts string) string {
		return `[{"name":"incident","description":"d","options":[{"type":1,"name":"raise","description":"d","options":` + opts + `}]}]`
	}
	tests := []struct {
		name, body, field string
	}{
		{"valid", sub(`[{"type":3,"name":"category","description":"d","required":true},{"type":3,"name":"site","description":"d"}]`), ""},
		{"capital option name", sub(`[{"type":3,"name":"Category","description":"d"}]`), "0.options.0.options.0.name"},
		{"empty option description", sub(`[{"type":3,"name":"category","description":""}]`), "0.options.0.options.0.description"},
		{"required after optional", sub(`[{"type":3,"name":"site","description":"d"},{"type":3,"name":"text","description":"d","required":true}]`), "0.options.0.options.1.required"},
		{"duplicate name", sub(`[{"type":3,"name":"a","description":"d"},{"type":3,"name":"a","description":"d"}]`), "0.options.0.options.1.name"},
		{"subcommand in a subcommand", sub(`[{"type":1,"name":"deeper","description":"d"}]`), "0.options.0.options.0.type"},
		{"subcommand mixed with an option", `[{"name":"x","description":"d","options":[{"type":1,"name":"a","description":"d"},{"type":3,"name":"b","description":"d"}]}]`, "0.options"},
		{"26 choices", sub(`[{"type":3,"name":"a","description":"d","choices":[` + choices(26) + `]}]`), "0.options.0.options.0.choices"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustDo(t, srv, "PUT", path, bot, tt.body)
			if tt.field == "" {
				if a.status != 200 {
					t.Fatalf("%d %s", a.status, a.raw)
				}
				return
			}
			if a.status != 400 || a.body["code"] != 50035.0 {
				t.Fatalf("%d %s, want 400 Invalid Form Body", a.status, a.raw)
			}
			// The error names the field as a path of nested objects.
			var node any = a.body["errors"]
			for _, part := range strings.Split(tt.field, ".") {
				m, ok := node.(map[string]any)
				if !ok || m[part] == nil {
					raw, _ := json.Marshal(a.body["errors"])
					t.Fatalf("errors %s do not name %s", raw, tt.field)
				}
				node = m[part]
			}
		})
	}
}

func choices(n int) string {
	s := ""
	for i := range n {
		if i > 0 {
			s += ","
		}
		s += `{"name":"c` + string(rune('a'+i%26)) + `","value":"v"}`
	}
	return s
}
