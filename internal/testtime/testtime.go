// Package testtime is the instant muster's tests run at. Who is on duty,
// whose qualification is valid and which shift a command falls in all
// depend on the date, so a test that asks the wall clock passes on some
// days and fails on others. Tests run instead at Start (or walk a run of
// days from it with Days), on an injected clock.
package testtime

import "time"

// Start is Tuesday 24 March 2026, 10:00 UTC: mid-shift for every rotation
// of configs/example.yaml (hand-overs are at 07:00, 08:00 and 09:00
// London time), five days before the clocks go forward, so Days(14)
// crosses a daylight-saving change. On the example's 24-hour
// harbour-supervisor rotation it is Farid's day.
var Start = time.Date(2026, time.March, 24, 10, 0, 0, 0, time.UTC)

// Days returns n instants a day apart from Start, at the same UTC time of
// day, for tests that show a suite passes whoever is on duty.
func Days(n int) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = Start.AddDate(0, 0, i)
	}
	return out
}
