package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/muster-ops/muster/configs"
	"github.com/muster-ops/muster/store"
)

// incidentHold puts an incident on legal hold (action store.ActionHold)
// or releases it (store.ActionRelease): a held incident, its activation
// and their audit events are never pruned by retention. Coordinators only.
// args follow the subcommand: INC-n [reason].
func (s *Service) incidentHold(ctx context.Context, c *call, args []string, action string) Reply {
	usage := "Usage: /incident " + action + " INC-n [reason]"
	if len(args) == 0 {
		return fail(usage)
	}
	num, err := store.ParseID("INC", args[0])
	if err != nil {
		return fail(err.Error() + ". " + usage)
	}
	if !c.who.HasRole(configs.RoleCoordinator) {
		return fail(fmt.Sprintf("Only a coordinator may %s a legal hold on an incident.", map[string]string{store.ActionHold: "place", store.ActionRelease: "release"}[action]))
	}
	id := store.FormatID("INC", num)
	reason := strings.TrimSpace(c.rest(args, 1))
	// The script checks the hold itself (state "held" or "not_held"), so
	// the command is one round trip.
	_, err = c.st.ChangeIncident(ctx, num, c.who.ID, action, reason)
	var se *store.StateError
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fail(fmt.Sprintf("There is no %s. /incident list all shows them.", id))
	case errors.As(err, &se) && se.Status == "held":
		return fail(id + " is already on hold.")
	case errors.As(err, &se) && se.Status == "not_held":
		return fail(id + " is not on hold.")
	case err != nil:
		return s.failErr(err, id)
	}
	line := fmt.Sprintf("%s is on legal hold (placed by %s): it and its records are kept past retention until released.", id, c.who.Name)
	if action == store.ActionRelease {
		line = fmt.Sprintf("%s released from legal hold by %s: retention applies again.", id, c.who.Name)
	}
	if reason != "" {
		line += " Reason: " + reason
	}
	return Reply{Text: line, Ref: id}
}
