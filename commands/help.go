package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/muster-ops/muster/store"
)

// HelpText lists the command language.
const HelpText = `muster commands:
/incident raise <category> [sev1..sev4] [@site] <text>   report an incident
/incident list [open|all] [@site]     /incident show INC-n
/incident update INC-n <text>         /incident ack INC-n
/incident resolve INC-n <summary>
/incident hold|release INC-n [reason]   (coordinators: legal hold)
/incident severity INC-n sev1..sev4   (starts the obligations it now matches)
/incident notified INC-n <obligation> <reference>   /incident send INC-n <contact> <text>
/plan list   /plan show <plan>   /plan trigger <plan> [@site] [INC-n] [note]
/plan status [A-n]   /plan standdown A-n [note]   /plan dryrun <plan> [@site]
/roster [@site] [now|next|week] [role]
/roster cover <roster> <person> <from> <to> [--override <reason>]
/ack [T-n] [note]   /done T-n [note]
/drill start <plan> [@site]   /drill stop D-n   /drill report D-n
/drill action D-n <text> · action done <n> · action list [D-n]
/action add <INC-n|A-n|D-n|review> <owner> <due> <text>   (due: 2026-03-15 or 14d)
/action done CA-n [note]   /action verify CA-n effective|ineffective [note]
/action list [mine|open|overdue] [@site]
/rollcall start [@site|@all] [note]   (supervisor, control, coordinator)
/rollcall safe [R-n]   /rollcall help [R-n] [text]   /rollcall status [R-n]   /rollcall stop R-n
/drill start rollcall [@site]
/checkin start <every> [for <duration>] [@site] [note]   (lone-worker check-ins)
/checkin   /checkin stop   /checkin status
/muster help | whoami | status
/muster board   (a sign-in link to the live board, for you only)   /muster board logout [person]
By SMS: ACK [n] · DONE n · STATUS · HELP · ACTION DONE CA-n
By SMS in a roll call: SAFE · HELP [text] (HELP then calls for help and raises a sev1)
By SMS on lone-worker check-ins: OK (check in) · HELP [text] (a sev1, control paged)`

// ConsoleHelpText is added to the help on the console, whose lines that
// start with ":" steer the console itself.
const ConsoleHelpText = `Console: :as <person> types as someone else · :wait <duration> lets console time pass · :quit leaves · # starts a comment`

func (s *Service) help(ctx context.Context, c *call) Reply {
	switch c.req.Platform {
	case PlatformSMS:
		// HELP from someone in an open roll call is a call for help, not
		// a question about muster.
		_, _, err := c.st.RollCallEntry(ctx, 0, c.who.ID)
		if err == nil {
			return s.rollcallAnswer(ctx, c, c.args, store.AnswerHelp)
		}
		if s.degradedOn(ctx, err, false) {
			// Records are unavailable: what this process knows says
			// whether it answers a roll call or is a lone worker's.
			return s.degradedHelp(ctx, c, c.rest(c.args, 0), err)
		}
		if t, ok := s.activeSession(ctx, c, c.who.ID); ok {
			return s.checkinHelp(ctx, c, t)
		}
		return Reply{Text: SMSHelpText}
	case PlatformConsole:
		return Reply{Text: HelpText + "\n" + ConsoleHelpText}
	}
	return Reply{Text: HelpText}
}

func (s *Service) muster(ctx context.Context, c *call) Reply {
	if len(c.args) == 0 {
		return s.help(ctx, c)
	}
	switch strings.ToLower(c.args[0]) {
	case "help":
		return s.help(ctx, c)
	case "status":
		return s.status(ctx, c)
	case "board":
		return s.boardLink(ctx, c)
	case "whoami":
		p := c.who
		var b strings.Builder
		fmt.Fprintf(&b, "You are %s (%s), %s at %s.", p.Name, p.ID, strings.Join(p.Roles, ", "), s.cfg().Organization)
		for _, q := range p.Qualifications {
			fmt.Fprintf(&b, "\n%s valid until %s", q.Name, q.Expires)
		}
		return Reply{Text: b.String()}
	}
	return fail("Usage: /muster help, /muster whoami, /muster status, /muster board or /muster board logout [person]")
}
