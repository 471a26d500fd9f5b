package commands

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/muster-ops/muster/configs"
)

// PlatformBoard is the live operations board: its buttons run commands
// as the signed-in person (Request.UserID is the person's id).
const PlatformBoard = "board"

// SetBoardURL sets the address sign-in links point at (the board's
// listener as people reach it); server.public_url, else
// http://server.listen, when never set. Call it before handling
// commands.
func (s *Service) SetBoardURL(u string) { s.boardURL = strings.TrimSuffix(u, "/") }

func (s *Service) boardBase() string {
	if s.boardURL != "" {
		return s.boardURL
	}
	if u := s.cfg().Server.PublicURL; u != "" {
		return strings.TrimSuffix(u, "/")
	}
	return "http://" + s.cfg().Server.Listen
}

// boardLink answers /muster board with a one-time sign-in link (only the
// sender sees it), and /muster board logout [person] by ending sessions.
func (s *Service) boardLink(ctx context.Context, c *call) Reply {
	args := c.args[1:]
	if len(args) > 0 && strings.EqualFold(args[0], "logout") {
		who := c.who.ID
		if len(args) > 2 {
			return fail("Usage: /muster board logout [person]")
		}
		if len(args) == 2 {
			p, ok := s.cfg().Person(strings.ToLower(args[1]))
			if !ok {
				return fail(fmt.Sprintf("No person %q in the config. Usage: /muster board logout [person]", args[1]))
			}
			if p.ID != c.who.ID && !c.who.HasAnyRole(configs.RoleCoordinator) {
				return fail("Only a coordinator may sign someone else out of the board. /muster board logout signs you out.")
			}
			who = p.ID
		}
		n, err := c.st.EndBoardSessions(ctx, c.who.ID, who)
		if err != nil {
			return s.failErr(err, "the board sessions")
		}
		return Reply{Text: fmt.Sprintf("Signed %s out of the board: %d session(s) ended.", s.personName(who), n)}
	}
	if len(args) > 0 {
		return fail("Usage: /muster board (a sign-in link) or /muster board logout [person]")
	}
	if c.req.Platform == PlatformSMS {
		return fail("Board links are given in chat only: type /muster board in Slack, Discord or the console.")
	}
	tok, err := c.st.NewBoardLink(ctx, c.who.ID)
	if err != nil {
		return s.failErr(err, "the board link")
	}
	link := s.boardBase() + "/board/login?t=" + url.QueryEscape(tok)
	return Reply{Text: "Your board link, for you only, valid once for 10 minutes: " + link}
}
