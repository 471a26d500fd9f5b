package configs

import (
	"fmt"
	"math"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written as Go duration text ("90s", "12h").
// Days are allowed as a convenience ("7d", "2555d").
type Duration time.Duration

// D returns the standard library duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats the duration the way it is written in a config.
func (d Duration) String() string { return FormatDuration(time.Duration(d)) }

// UnmarshalYAML parses duration text, reporting the line on failure.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		return typeError(n, "%q is not a duration (try 90s, 5m or 12h)", n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration back as text.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// ParseDuration accepts Go duration text plus a whole-day suffix "d".
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err != nil || fmt.Sprint(n) != days {
			return 0, fmt.Errorf("bad day count %q", s)
		}
		if maxDays := int(math.MaxInt64 / int64(24*time.Hour)); n > maxDays || n < -maxDays {
			return 0, fmt.Errorf("day count %q out of range", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// FormatDuration writes a duration compactly: 90s, 5m, 12h, 1h30m.
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	if d%(24*time.Hour) == 0 && d >= 48*time.Hour {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	// Drop zero minutes and seconds, but only whole units: "10m0s" is
	// "10m", not "1".
	s := d.String()
	if t, ok := strings.CutSuffix(s, "m0s"); ok {
		s = t + "m"
	}
	if t, ok := strings.CutSuffix(s, "h0m"); ok {
		s = t + "h"
	}
	return s
}

// Date is a calendar date (2027-03-31) without a time of day.
type Date struct{ Year, Month, Day int }

// UnmarshalYAML parses YYYY-MM-DD.
func (d *Date) UnmarshalYAML(n *yaml.Node) error {
	t, err := time.Parse("2006-01-02", n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		return typeError(n, "%q is not a date (write YYYY-MM-DD)", n.Value)
	}
	*d = Date{t.Year(), int(t.Month()), t.Day()}
	return nil
}

// MarshalYAML writes YYYY-MM-DD.
func (d Date) MarshalYAML() (any, error) { return d.String(), nil }

// IsZero reports whether the date was left unset.
func (d Date) IsZero() bool { return d == Date{} }

// String formats YYYY-MM-DD.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// In returns local midnight of the date in loc.
func (d Date) In(loc *time.Location) time.Time {
	return time.Date(d.Year, time.Month(d.Month), d.Day, 0, 0, 0, 0, loc)
}

// Clock is a local time of day, written "07:00".
type Clock struct{ Hour, Minute int }

// UnmarshalYAML parses HH:MM.
func (c *Clock) UnmarshalYAML(n *yaml.Node) error {
	t, err := time.Parse("15:04", n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		return typeError(n, "%q is not a time of day (write HH:MM, e.g. 07:00)", n.Value)
	}
	*c = Clock{t.Hour(), t.Minute()}
	return nil
}

// MarshalYAML writes HH:MM.
func (c Clock) MarshalYAML() (any, error) { return c.String(), nil }

// String formats HH:MM.
func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", c.Hour, c.Minute) }

// Offset is the time of day as a duration since midnight.
func (c Clock) Offset() time.Duration {
	return time.Duration(c.Hour)*time.Hour + time.Duration(c.Minute)*time.Minute
}

// typeError returns the error kind yaml.v3 aggregates, so one bad value
// does not hide the errors after it.
func typeError(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: ", n.Line) + fmt.Sprintf(format, args...)}}
}
