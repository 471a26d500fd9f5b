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
	"strings"
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
	Facts  [][2]string
	Paras  []string
	Charts []Chart
	Tables []Table
}

// Table is a captioned table.
type Table struct {
	Caption string
	Header  []string
	Rows    [][]string
}

// Chart is a horizontal bar chart.
type Chart struct {
	Title  string
	Labels []string
	Values []float64
	// Unit follows each value ("min", "").
	Unit string
	// Dup: the section's tables or facts already give these numbers, so
	// Markdown and CSV, which cannot draw, leave the chart out.
	Dup bool
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
			fmt.Fprintf(&b, "- **%s:** %s\n", mdEscape(f[0]), mdEscape(f[1]))
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
				t.Rows = append(t.Rows, []string{l, formatValue(c.Values[i], c.Unit)})
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
			write(s.Heading, "facts", f[0], f[1])
		}
		for _, c := range s.Charts {
			if c.Dup {
				continue
			}
			for i, l := range c.Labels {
				write(s.Heading, c.Title, l, formatNumber(c.Values[i]))
			}
		}
		for _, t := range s.Tables {
			write(append([]string{s.Heading, t.Caption}, t.Header...)...)
			for _, r := range t.Rows {
				write(append([]string{s.Heading, t.Caption}, r...)...)
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
				fmt.Fprintf(&b, "<dt>%s</dt><dd>%s</dd>\n", e(f[0]), e(f[1]))
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

// svgChart draws a horizontal bar chart: one row per label, bars scaled
// to the largest value, the value written after each bar.
func svgChart(b *strings.Builder, c Chart) {
	const (
		labelW = 170
		barW   = 360
		rowH   = 24
		pad    = 8
	)
	e := html.EscapeString
	h := pad*2 + rowH*max(len(c.Labels), 1)
	width := labelW + barW + 90
	top := 0.0
	for _, v := range c.Values {
		top = math.Max(top, v)
	}
	fmt.Fprintf(b, "<figure class=\"chart\">\n<figcaption>%s</figcaption>\n", e(c.Title))
	fmt.Fprintf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"%s\">\n", width, h, width, h, e(c.Title))
	fmt.Fprintf(b, "<title>%s</title>\n", e(c.Title))
	if len(c.Labels) == 0 {
		fmt.Fprintf(b, "<text x=\"%d\" y=\"%d\">No data.</text>\n", pad, pad+16)
	}
	for i, l := range c.Labels {
		y := pad + i*rowH
		w := 0.0
		if top > 0 {
			w = c.Values[i] / top * barW
		}
		fmt.Fprintf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n", labelW-6, y+16, e(l))
		fmt.Fprintf(b, "<rect class=\"bar\" x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n", labelW, y+4, w, rowH-8, BarColor)
		fmt.Fprintf(b, "<text x=\"%.1f\" y=\"%d\">%s</text>\n", float64(labelW)+w+6, y+16, e(formatValue(c.Values[i], c.Unit)))
	}
	b.WriteString("</svg>\n</figure>\n")
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
