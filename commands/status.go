package commands

import (
	"context"
	"fmt"
	"strings"
)

// SMSHelpText is HELP by SMS: short enough for one or two segments.
const SMSHelpText = "muster: ACK = acknowledge your newest task, ACK 17 = task T-17, DONE 17 = finished, STATUS = your open tasks, ACTION DONE CA-3 = action done. In a roll call: SAFE = you are safe, HELP <text> = you need help. On check-ins: OK = check in."

// status answers STATUS (SMS) and /muster status: the sender's open tasks.
func (s *Service) status(ctx context.Context, c *call) Reply {
	nums, err := c.st.OpenTasksFor(ctx, c.who.ID)
	if err != nil {
		return s.failErr(err, "your status")
	}
	if len(nums) == 0 {
		return Reply{Text: "You have no open tasks."}
	}
	tasks, err := c.st.Tasks(ctx, nums)
	if err != nil {
		return s.failErr(err, "your status")
	}
	var parts []string
	for _, t := range tasks {
		parts = append(parts, fmt.Sprintf("%s %s: %s", t.ID(), s.siteName(t.Site), t.Title))
	}
	sep := "\n"
	if c.req.Platform == PlatformSMS {
		sep = "; "
	}
	return Reply{Text: fmt.Sprintf("Open tasks (%d): ", len(tasks)) + strings.Join(parts, sep)}
}
