package board

import (
	"context"
	"html/template"
	"time"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/configs/roster"
	"github.com/muster-ops/muster/store"
)

// SafetySource gives the open roll calls and the lone workers checking
// in, for the board's "People safety" section (*Safety reads them from
// the store); without one the section is left out.
type SafetySource interface {
	Safety(ctx context.Context) (*SafetyView, error)
}

// SafetyView is what the board shows of people's safety.
type SafetyView struct {
	RollCalls   []RollCall
	LoneWorkers []LoneWorker
}

// RollCall is an open roll call and its tally.
type RollCall struct {
	// ID is R-n; Site the names of its sites, Sites their ids.
	ID, Site                           string
	Sites                              []string
	Safe, NeedHelp, NotAnswered, Total int
	Drill                              bool
	// Note is as the starter typed it.
	Note  string
	Since time.Time
}

// LoneWorker is a person on timed check-ins.
type LoneWorker struct {
	// ID is the session, L-n.
	ID, Person, Site, SiteID string
	// NextDue is when the next check-in is due, or, when Missed, when the
	// missed one was.
	NextDue time.Time
	Missed  bool
	// Note is as the worker typed it.
	Note string
}

// seenBy is what v sees of s: roll calls at any of v's sites, lone
// workers at v's sites.
func (s *SafetyView) seenBy(v *viewer) *SafetyView {
	if s == nil {
		return nil
	}
	out := &SafetyView{}
	for _, rc := range s.RollCalls {
		for _, st := range rc.Sites {
			if v.sees(st) {
				out.RollCalls = append(out.RollCalls, rc)
				break
			}
		}
	}
	for _, w := range s.LoneWorkers {
		if v.sees(w.SiteID) {
			out.LoneWorkers = append(out.LoneWorkers, w)
		}
	}
	return out
}

// snapshot is what every board shows, read once per change.
type snapshot struct {
	at        time.Time
	incidents []*store.Incident
	obls      map[int64][]*store.Obligation
	acts      []*store.Activation
	tasks     map[int64]*store.Task
	overrides []roster.Override
	safety    *SafetyView
}

// maxIncidents bounds the open incidents a board lists.
const maxIncidents = 200

// read builds a snapshot from the store.
func (b *Board) read(ctx context.Context, safety SafetySource) (*snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s := &snapshot{at: b.st.Now()}
	var err error
	if s.incidents, err = b.st.ListIncidents(ctx, store.IncidentFilter{OpenOnly: true, Limit: maxIncidents}); err != nil {
		return nil, err
	}
	nums := make([]int64, len(s.incidents))
	for i, inc := range s.incidents {
		nums[i] = inc.Num
	}
	if s.obls, err = b.st.ObligationsOf(ctx, nums); err != nil {
		return nil, err
	}
	if s.acts, err = b.st.ActiveActivations(ctx); err != nil {
		return nil, err
	}
	var tnums []int64
	for _, a := range s.acts {
		tnums = append(tnums, a.Tasks...)
	}
	s.tasks = map[int64]*store.Task{}
	if len(tnums) > 0 {
		ts, err := b.st.Tasks(ctx, tnums)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			s.tasks[t.Num] = t
		}
	}
	if s.overrides, err = b.st.Overrides(ctx); err != nil {
		return nil, err
	}
	if safety != nil {
		if s.safety, err = safety.Safety(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

type view struct {
	At        int64
	Sites     []siteView
	Plans     []planView
	Drills    []planView
	Duty      []dutyView
	Safety    *SafetyView
	Incidents int
	ReadOnly  bool
}

type siteView struct {
	ID, Name  string
	Incidents []incView
}

type incView struct {
	ID, Severity, Category, Status, Text, Reporter string
	Since                                          int64
	Obligations                                    []oblView
	CanAck, CanResolve                             bool
}

type oblView struct {
	ID, Contact, Status, Detail string
	Deadline                    int64
}

type planView struct {
	ID, Name, Site, By string
	Since              int64
	Tasks              []taskView
}

type taskView struct {
	ID, Title, Assignee, Status string
	Step                        int
	Next                        int64
	CanAck, NeedReason          bool
}

type dutyView struct {
	Site string
	Rows []dutyRow
}

type dutyRow struct {
	Role, Now, Until, Next, From string
}

// view is what v sees of s.
func (s *snapshot) view(cfg *configs.Config, v *viewer) view {
	out := view{At: s.at.UnixMilli(), Safety: s.safety.seenBy(v), ReadOnly: v.person == nil}
	name := func(id string) string {
		if p, ok := cfg.Person(id); ok {
			return p.Name
		}
		if id == "" {
			return "nobody"
		}
		return id
	}
	isLead := lead(v.person)
	for _, site := range cfg.Sites {
		if !v.sees(site.ID) {
			continue
		}
		sv := siteView{ID: site.ID, Name: site.Name}
		for _, inc := range s.incidents {
			if inc.Site != site.ID {
				continue
			}
			iv := incView{ID: inc.ID(), Severity: inc.Severity, Category: inc.Category, Status: inc.Status, Text: inc.Text,
				Reporter: name(inc.Reporter), Since: inc.Created.UnixMilli(),
				CanAck: isLead && inc.Status == store.StatusOpen, CanResolve: isLead}
			for _, o := range s.obls[inc.Num] {
				ov := oblView{ID: o.ID, Contact: o.Contact, Deadline: o.Deadline, Status: "pending"}
				if ct, ok := cfg.Contact(o.Contact); ok {
					ov.Contact = ct.Name
				}
				switch {
				case o.Status == store.ObligationMet:
					ov.Status = "met"
					ov.Detail = "told " + o.MetTime().In(cfg.Location()).Format("15:04") + " by " + name(o.MetBy)
					if o.Late() {
						ov.Detail += " (late)"
					}
				case o.Missed(s.at):
					ov.Status = "missed"
				}
				iv.Obligations = append(iv.Obligations, ov)
			}
			sv.Incidents = append(sv.Incidents, iv)
			out.Incidents++
		}
		out.Sites = append(out.Sites, sv)

		dv := dutyView{Site: site.Name}
		for i := range cfg.Rosters {
			r := &cfg.Rosters[i]
			if r.Site != site.ID {
				continue
			}
			now := roster.At(cfg, r, s.at, s.overrides)
			next := roster.Next(cfg, r, now, s.overrides)
			row := dutyRow{Role: r.Role, Now: "nobody", Next: "nobody",
				Until: now.End.In(cfg.Location()).Format("Mon 15:04"), From: next.Start.In(cfg.Location()).Format("Mon 15:04")}
			if now.Person != nil {
				row.Now = now.Person.Name
			}
			if next.Person != nil {
				row.Next = next.Person.Name
			}
			dv.Rows = append(dv.Rows, row)
		}
		out.Duty = append(out.Duty, dv)
	}
	for _, a := range s.acts {
		if !v.sees(a.Site) {
			continue
		}
		pv := planView{ID: a.ID(), Name: a.PlanName, Site: siteName(cfg, a.Site), By: name(a.TriggeredBy), Since: a.Created.UnixMilli()}
		if a.Drill > 0 {
			pv.ID = store.FormatID("D", a.Drill) + " · " + a.ID()
		}
		for _, tn := range a.Tasks {
			t, ok := s.tasks[tn]
			if !ok {
				continue
			}
			tv := taskView{ID: t.ID(), Title: t.Title, Assignee: name(t.Assignee), Status: t.Status, Step: t.Step}
			if t.Status == store.TaskOpen {
				tv.Next = t.Due.UnixMilli()
			}
			if v.person != nil && (t.Status == store.TaskOpen || t.Status == store.TaskUnanswered) {
				mine := t.WasAssigned(v.person.ID)
				tv.CanAck = mine || isLead
				tv.NeedReason = !mine
			}
			pv.Tasks = append(pv.Tasks, tv)
		}
		if a.Drill > 0 {
			out.Drills = append(out.Drills, pv)
		} else {
			out.Plans = append(out.Plans, pv)
		}
	}
	return out
}

func siteName(cfg *configs.Config, id string) string {
	if s, ok := cfg.Site(id); ok {
		return s.Name
	}
	return id
}

type pageData struct {
	Org, Who, CSRF string
	Person         bool
	Body           template.HTML
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{{.CSRF}}">
<title>{{.Org}}: muster board</title>
<link rel="stylesheet" href="/board/static/board.css">
<script src="/board/static/board.js" defer></script>
</head><body>
<header><h1>{{.Org}}</h1><span id="live" class="live">connecting…</span><span class="who">{{.Who}}</span>
{{if .Person}}<form method="post" action="/board/logout"><input type="hidden" name="csrf" value="{{.CSRF}}"><button type="submit">Sign out</button></form>{{end}}
</header>
<div id="toast" role="status" aria-live="polite"></div>
<main id="board">{{.Body}}</main>
</body></html>
`))

// actsData is what the "acts" template shows: activations, and whether
// the viewer is read-only.
type actsData struct {
	Acts     []planView
	ReadOnly bool
}

var fragTmpl = template.Must(template.New("frag").Funcs(template.FuncMap{
	"acts": func(a []planView, ro bool) actsData { return actsData{a, ro} },
}).Parse(`<div id="clock" data-now="{{.At}}" hidden></div>
<section class="incidents"><h2>Open incidents <span class="count">{{.Incidents}}</span></h2>
{{range .Sites}}<div class="site" data-site="{{.ID}}"><h3>{{.Name}}</h3>
{{if .Incidents}}<table><thead><tr><th>Incident</th><th>Severity</th><th>What</th><th>Status</th><th>Age</th><th>Obligations</th>{{if not $.ReadOnly}}<th></th>{{end}}</tr></thead><tbody>
{{range .Incidents}}<tr id="{{.ID}}" class="{{.Severity}}"><td class="ref">{{.ID}}</td><td><span class="sev {{.Severity}}">{{.Severity}}</span></td>
<td><b>{{.Category}}</b> {{.Text}}<div class="by">by {{.Reporter}}</div></td><td class="status">{{.Status}}</td>
<td><span data-since="{{.Since}}"></span></td>
<td>{{range .Obligations}}<div class="obl {{.Status}}" title="{{.Contact}}">{{.ID}}: {{.Status}}{{if eq .Status "pending"}} <span data-deadline="{{.Deadline}}"></span>{{else if eq .Status "missed"}} <span data-deadline="{{.Deadline}}"></span>{{else}} {{.Detail}}{{end}}</div>{{end}}</td>
{{if not $.ReadOnly}}<td class="act">{{if .CanAck}}<button data-cmd="incident-ack" data-ref="{{.ID}}">Acknowledge</button>{{end}}{{if .CanResolve}}<button data-cmd="resolve" data-ref="{{.ID}}" data-prompt="How was {{.ID}} resolved?">Resolve</button>{{end}}</td>{{end}}</tr>
{{end}}</tbody></table>{{else}}<p class="none">No open incidents.</p>{{end}}</div>
{{end}}</section>
<section class="plans"><h2>Active plans</h2>{{template "acts" acts .Plans $.ReadOnly}}</section>
{{if .Drills}}<section class="drills"><h2>Running drills</h2>{{template "acts" acts .Drills $.ReadOnly}}</section>{{end}}
{{with .Safety}}<section class="safety"><h2>People safety</h2>
<h3>Roll calls</h3>{{if .RollCalls}}<table><thead><tr><th>Roll call</th><th>Sites</th><th>Safe</th><th>Need help</th><th>Not answered</th><th>Age</th></tr></thead><tbody>
{{range .RollCalls}}<tr id="{{.ID}}" class="rollcall{{if .NeedHelp}} help{{end}}"><td class="ref">{{if .Drill}}DRILL {{end}}{{.ID}}</td><td>{{.Site}}{{if .Note}}<div class="by">{{.Note}}</div>{{end}}</td>
<td class="safe">{{.Safe}}</td><td class="needhelp">{{.NeedHelp}}</td><td class="pending">{{.NotAnswered}} of {{.Total}}</td><td><span data-since="{{.Since.UnixMilli}}"></span></td></tr>
{{end}}</tbody></table>{{else}}<p class="none">No open roll call.</p>{{end}}
<h3>Lone workers</h3>{{if .LoneWorkers}}<table><thead><tr><th>Session</th><th>Who</th><th>Site</th><th>Next check-in</th></tr></thead><tbody>
{{range .LoneWorkers}}<tr id="{{.ID}}" class="lone{{if .Missed}} missed{{end}}"><td class="ref">{{.ID}}</td><td>{{.Person}}{{if .Note}}<div class="by">{{.Note}}</div>{{end}}</td><td>{{.Site}}</td>
<td>{{if .Missed}}MISSED, due {{end}}<span data-deadline="{{.NextDue.UnixMilli}}"></span></td></tr>
{{end}}</tbody></table>{{else}}<p class="none">Nobody on lone-worker check-ins.</p>{{end}}
</section>{{end}}
<section class="duty"><h2>On duty</h2>{{range .Duty}}<div class="site"><h3>{{.Site}}</h3><table><thead><tr><th>Role</th><th>Now</th><th>Until</th><th>Next</th><th>From</th></tr></thead><tbody>
{{range .Rows}}<tr><td>{{.Role}}</td><td>{{.Now}}</td><td>{{.Until}}</td><td>{{.Next}}</td><td>{{.From}}</td></tr>{{end}}</tbody></table></div>{{end}}</section>
{{define "acts"}}{{if .Acts}}{{range .Acts}}<div class="plan"><h3>{{.ID}} {{.Name}} <small>at {{.Site}}, by {{.By}}, <span data-since="{{.Since}}"></span> ago</small></h3>
<table><thead><tr><th>Task</th><th>What</th><th>Assignee</th><th>State</th><th>Step</th><th>Next step</th>{{if not $.ReadOnly}}<th></th>{{end}}</tr></thead><tbody>
{{range .Tasks}}<tr id="{{.ID}}" class="task {{.Status}}"><td class="ref">{{.ID}}</td><td>{{.Title}}</td><td>{{.Assignee}}</td><td class="status">{{.Status}}</td><td>{{.Step}}</td><td>{{if .Next}}<span data-deadline="{{.Next}}"></span>{{else}}-{{end}}</td>
{{if not $.ReadOnly}}<td class="act">{{if .CanAck}}<button data-cmd="ack" data-ref="{{.ID}}"{{if .NeedReason}} data-prompt="Why are you acknowledging {{.ID}} for its assignee?"{{end}}>Acknowledge</button>{{end}}</td>{{end}}</tr>
{{end}}</tbody></table></div>{{end}}{{else}}<p class="none">None.</p>{{end}}{{end}}
`))
