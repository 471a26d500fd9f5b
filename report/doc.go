// Package report turns muster's records into documents for managers and
// auditors: the incident and activation reports, the drill after-action
// report and the management review pack, as Markdown, self-contained HTML
// (inline SVG charts, no scripts, nothing fetched) or CSV; and the
// command-line tools around the audit log (verify, export) and retention
// (prune). Everything is read from the store: the records, their
// timelines and the hash-chained audit log.
package report

import (
	"encoding/csv"
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Doc is a report as data; Markdown, HTML and CSV render it.
type Doc struct {
	Title    string
	Subtitle string
	Sections []Section
}

// Section is one heading and what follows it, in this order: facts,
// paragraphs, charts, tables.
type Section struct {
	Heading string
	// Facts are label: value pairs.
	Facts  []Fact
	Paras  []string
	Charts []Chart
	Tables []Table
}

// Fact is one "label: value" line.
type Fact struct {
	Label, Value string
	// Duration marks a value written by dur ("4m2s", or "-" for none):
	// CSV writes it as a number of seconds.
	Duration bool
}

// fact is a plain fact.
func fact(label, value string) Fact { return Fact{Label: label, Value: value} }

// durFact is a duration fact; text is dur's, or words saying why there
// is none.
func durFact(label, text string) Fact { return Fact{Label: label, Value: text, Duration: true} }

// Table is a captioned table.
type Table struct {
	Caption string
	Header  []string
	Rows    [][]string
	// Durations lists the columns whose cells are durations written by
	// dur: CSV writes them as numbers of seconds, headed "<header> (s)".
	Durations []int
}

// seconds is a duration cell or fact as CSV writes it: whole seconds as a
// number; empty for "-"; any other words as they are.
func seconds(text string) string {
	if text == "-" {
		return ""
	}
	d, err := time.ParseDuration(text)
	if err != nil {
		return text
	}
	return strconv.FormatInt(int64(d.Round(time.Second)/time.Second), 10)
}

// Chart is a horizontal bar chart with a value axis.
type Chart struct {
	Title  string
	Labels []string
	Values []float64
	// Missing, where an entry is not empty, says why a row has no value
	// ("no data: no incidents"): no bar is drawn and the words are
	// written instead, so no data never reads as zero.
	Missing []string
	// Unit follows each value ("min", "%", "").
	Unit string
	// Axis names the value axis (its unit is added).
	Axis string
	// Target, when above 0, draws a dashed line across every row at that
	// value, labelled TargetLabel.
	Target      float64
	TargetLabel string
	// Targets, where an entry is above 0, marks that row's own target
	// (a plan's) with a dashed tick, explained by a legend that reads
	// TargetLabel ("target" when empty).
	Targets []float64
	// Dup: the section's tables or facts already give these numbers, so
	// Markdown and CSV, which cannot draw, leave the chart out.
	Dup bool
}

// missing is why row i has no value, or "".
func (c Chart) missing(i int) string {
	if i < len(c.Missing) {
		return c.Missing[i]
	}
	return ""
}

// target is row i's own target, or 0.
func (c Chart) target(i int) float64 {
	if i < len(c.Targets) {
		return c.Targets[i]
	}
	return 0
}

// Markdown writes the document as GitHub-flavoured Markdown.
func (d *Doc) Markdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", d.Title)
	if d.Subtitle != "" {
		fmt.Fprintf(&b, "%s\n\n", d.Subtitle)
	}
	for _, s := range d.Sections {
		fmt.Fprintf(&b, "## %s\n\n", s.Heading)
		for _, f := range s.Facts {
			fmt.Fprintf(&b, "- **%s:** %s\n", mdEscape(f.Label), mdEscape(f.Value))
		}
		if len(s.Facts) > 0 {
			b.WriteString("\n")
		}
		for _, p := range s.Paras {
			fmt.Fprintf(&b, "%s\n\n", mdEscape(p))
		}
		for _, c := range s.Charts {
			if c.Dup {
				continue
			}
			// Markdown has no charts: the chart's numbers as a table.
			t := Table{Caption: c.Title, Header: []string{"", c.Title}}
			for i, l := range c.Labels {
				v := formatValue(c.Values[i], c.Unit)
				if m := c.missing(i); m != "" {
					v = m
				}
				t.Rows = append(t.Rows, []string{l, v})
			}
			mdTable(&b, t)
		}
		for _, t := range s.Tables {
			mdTable(&b, t)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mdTable(b *strings.Builder, t Table) {
	if t.Caption != "" {
		fmt.Fprintf(b, "**%s**\n\n", mdEscape(t.Caption))
	}
	if len(t.Rows) == 0 {
		b.WriteString("None.\n\n")
		return
	}
	row := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + strings.ReplaceAll(mdEscape(c), "|", "\\|") + " |")
		}
		b.WriteString("\n")
	}
	row(t.Header)
	b.WriteString("|" + strings.Repeat(" --- |", len(t.Header)) + "\n")
	for _, r := range t.Rows {
		row(r)
	}
	b.WriteString("\n")
}

// mdEscape keeps text typed by people from becoming Markdown markup
// (and line breaks from breaking a table row).
func mdEscape(s string) string {
	r := strings.NewReplacer("\\", "\\\\", "*", "\\*", "_", "\\_", "`", "\\`", "<", "&lt;", ">", "&gt;", "[", "\\[", "]", "\\]", "\n", " ", "\r", " ")
	return r.Replace(s)
}

// CSV writes every fact and table row as one CSV record:
// section, table (or "facts"), then the cells; each table's header first.
func (d *Doc) CSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	write := func(rec ...string) { _ = cw.Write(rec) }
	write("section", "table", "cells...")
	for _, s := range d.Sections {
		for _, f := range s.Facts {
			if f.Duration {
				write(s.Heading, "facts", f.Label+" (s)", seconds(f.Value))
				continue
			}
			write(s.Heading, "facts", f.Label, f.Value)
		}
		for _, c := range s.Charts {
			if c.Dup {
				continue
			}
			for i, l := range c.Labels {
				v := formatNumber(c.Values[i])
				if m := c.missing(i); m != "" {
					v = m
				}
				write(s.Heading, c.Title, l, v)
			}
		}
		for _, t := range s.Tables {
			header := append([]string{s.Heading, t.Caption}, t.Header...)
			for _, c := range t.Durations {
				if c < len(t.Header) {
					header[2+c] += " (s)"
				}
			}
			write(header...)
			for _, r := range t.Rows {
				row := append([]string{s.Heading, t.Caption}, r...)
				for _, c := range t.Durations {
					if c < len(r) {
						row[2+c] = seconds(r[c])
					}
				}
				write(row...)
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// htmlStyle prints cleanly: black on white, tables and charts kept whole
// on a page, headings kept with what follows.
const htmlStyle = `
body { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #111; background: #fff; max-width: 60em; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { font-size: 1.25em; border-bottom: 1px solid #999; margin-top: 1.6em; page-break-after: avoid; }
p.sub { color: #444; margin-top: 0; }
dl { display: grid; grid-template-columns: max-content auto; gap: .15em 1em; } dt { font-weight: 600; } dd { margin: 0; }
table { border-collapse: collapse; margin: .6em 0 1.2em; width: 100%; page-break-inside: avoid; }
caption { text-align: left; font-weight: 600; padding: .3em 0; }
th, td { border: 1px solid #bbb; padding: .25em .5em; text-align: left; vertical-align: top; } th { background: #eee; }
td, dd { overflow-wrap: anywhere; } td:empty { height: 1.8em; }
figure { margin: .6em 0 1.2em; page-break-inside: avoid; } figcaption { font-weight: 600; }
svg text { font: 12px Helvetica, Arial, sans-serif; fill: #111; }
@media print { body { margin: 0; max-width: none; font-size: 11pt; } h2 { page-break-after: avoid; } a { color: #111; text-decoration: none; } }
@page { margin: 15mm; }
`

// BarColor is the fill of chart bars (tests look for it in screenshots).
const BarColor = "#1f5fa8"

// HTML writes the document as one self-contained HTML file: inline CSS
// and SVG charts, no scripts, no external resources.
func (d *Doc) HTML(w io.Writer) error {
	var b strings.Builder
	e := html.EscapeString
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	b.WriteString("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n")
	fmt.Fprintf(&b, "<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n", e(d.Title), htmlStyle)
	fmt.Fprintf(&b, "<h1>%s</h1>\n", e(d.Title))
	if d.Subtitle != "" {
		fmt.Fprintf(&b, "<p class=\"sub\">%s</p>\n", e(d.Subtitle))
	}
	for _, s := range d.Sections {
		fmt.Fprintf(&b, "<section>\n<h2>%s</h2>\n", e(s.Heading))
		if len(s.Facts) > 0 {
			b.WriteString("<dl>\n")
			for _, f := range s.Facts {
				fmt.Fprintf(&b, "<dt>%s</dt><dd>%s</dd>\n", e(f.Label), e(f.Value))
			}
			b.WriteString("</dl>\n")
		}
		for _, p := range s.Paras {
			fmt.Fprintf(&b, "<p>%s</p>\n", e(p))
		}
		for _, c := range s.Charts {
			svgChart(&b, c)
		}
		for _, t := range s.Tables {
			b.WriteString("<table>\n")
			if t.Caption != "" {
				fmt.Fprintf(&b, "<caption>%s</caption>\n", e(t.Caption))
			}
			b.WriteString("<thead><tr>")
			for _, h := range t.Header {
				fmt.Fprintf(&b, "<th>%s</th>", e(h))
			}
			b.WriteString("</tr></thead>\n<tbody>\n")
			if len(t.Rows) == 0 {
				fmt.Fprintf(&b, "<tr><td colspan=\"%d\">None.</td></tr>\n", max(len(t.Header), 1))
			}
			for _, r := range t.Rows {
				b.WriteString("<tr>")
				for _, c := range r {
					fmt.Fprintf(&b, "<td>%s</td>", e(c))
				}
				b.WriteString("</tr>\n")
			}
			b.WriteString("</tbody>\n</table>\n")
		}
		b.WriteString("</section>\n")
	}
	b.WriteString("</body>\n</html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// svgChart draws a horizontal bar chart: one row per label, a value axis
// under the rows with ticks and its name and unit, bars scaled to the
// axis, the value (or why there is none) after each bar, and dashed
// target lines.
func svgChart(b *strings.Builder, c Chart) {
	const (
		labelW = 190 // the row labels, right-aligned before the plot
		plotW  = 360 // the value axis
		rowH   = 24
		pad    = 10
		axisH  = 44 // ticks, their numbers and the axis name
	)
	e := html.EscapeString
	rows := max(len(c.Labels), 1)
	top := pad
	if c.Target > 0 {
		top += 14 // the target line's label
	}
	plotH := rowH * rows
	h := top + plotH + axisH
	width := labelW + plotW + 200
	peak := math.Max(c.Target, 0)
	for i, v := range c.Values {
		if c.missing(i) == "" {
			peak = math.Max(peak, v)
		}
		peak = math.Max(peak, c.target(i))
	}
	axisMax, step := niceAxis(peak)
	x := func(v float64) float64 { return float64(labelW) + v/axisMax*plotW }

	fmt.Fprintf(b, "<figure class=\"chart\">\n<figcaption>%s</figcaption>\n", e(c.Title))
	fmt.Fprintf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"%s\">\n", width, h, width, h, e(c.Title))
	fmt.Fprintf(b, "<title>%s</title>\n", e(c.Title))
	// The axes: the value axis along the bottom with its ticks, and the
	// base line the bars grow from.
	bottom := top + plotH
	fmt.Fprintf(b, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#111\"/>\n", labelW, top, labelW, bottom)
	fmt.Fprintf(b, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#111\"/>\n", labelW, bottom, labelW+plotW, bottom)
	for v := 0.0; v <= axisMax+step/1000; v += step {
		tx := x(v)
		fmt.Fprintf(b, "<line class=\"tick\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#111\"/>\n", tx, bottom, tx, bottom+5)
		fmt.Fprintf(b, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", tx, bottom+18, e(formatNumber(v)))
	}
	axis := c.Axis
	switch {
	case axis == "" && c.Unit != "":
		axis = c.Unit
	case c.Unit != "":
		axis += " (" + c.Unit + ")"
	}
	if axis != "" {
		fmt.Fprintf(b, "<text class=\"axis-name\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", labelW+plotW/2, bottom+36, e(axis))
	}
	if len(c.Labels) == 0 {
		fmt.Fprintf(b, "<text x=\"%d\" y=\"%d\">No data.</text>\n", labelW+8, top+16)
	}
	for i, l := range c.Labels {
		y := top + i*rowH
		fmt.Fprintf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n", labelW-6, y+16, e(l))
		if m := c.missing(i); m != "" {
			fmt.Fprintf(b, "<text class=\"no-data\" x=\"%d\" y=\"%d\" font-style=\"italic\">%s</text>\n", labelW+6, y+16, e(m))
		} else {
			w := x(c.Values[i]) - labelW
			fmt.Fprintf(b, "<rect class=\"bar\" x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n", labelW, y+4, w, rowH-8, BarColor)
			fmt.Fprintf(b, "<text x=\"%.1f\" y=\"%d\">%s</text>\n", float64(labelW)+w+6, y+16, e(formatValue(c.Values[i], c.Unit)))
		}
		if t := c.target(i); t > 0 {
			fmt.Fprintf(b, "<line class=\"target\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\" stroke-dasharray=\"3 2\"/>\n", x(t), y+1, x(t), y+rowH-1, TargetColor)
		}
	}
	if slices.ContainsFunc(c.Targets, func(t float64) bool { return t > 0 }) {
		// A legend for the rows' own targets.
		label := c.TargetLabel
		if label == "" {
			label = "target"
		}
		lx := labelW + plotW + 24
		fmt.Fprintf(b, "<line class=\"target\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\" stroke-dasharray=\"3 2\"/>\n", lx, bottom+22, lx, bottom+38, TargetColor)
		fmt.Fprintf(b, "<text class=\"legend\" x=\"%d\" y=\"%d\">%s</text>\n", lx+6, bottom+34, e(label))
	}
	if c.Target > 0 {
		tx := x(c.Target)
		fmt.Fprintf(b, "<line class=\"target\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\" stroke-dasharray=\"5 3\"/>\n", tx, top-2, tx, bottom, TargetColor)
		label := c.TargetLabel
		if label == "" {
			label = "target " + formatValue(c.Target, c.Unit)
		}
		fmt.Fprintf(b, "<text class=\"target\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", tx, top-4, e(label))
	}
	b.WriteString("</svg>\n</figure>\n")
}

// TargetColor draws target lines.
const TargetColor = "#c0392b"

// niceAxis picks the value axis: a maximum at or above peak and a tick
// step of 1, 2 or 5 times a power of ten, about five ticks in all.
func niceAxis(peak float64) (axisMax, step float64) {
	if peak <= 0 {
		return 1, 1
	}
	raw := peak / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step = 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	return math.Ceil(peak/step-1e-9) * step, step
}

func formatNumber(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func formatValue(v float64, unit string) string {
	if unit == "" {
		return formatNumber(v)
	}
	return formatNumber(v) + " " + unit
}
