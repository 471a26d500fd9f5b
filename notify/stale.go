package notify

import (
	"errors"

	"github.com/muster-ops/muster/store"
)

// ErrStale is a notifier's answer for a message that it did not send
// because the task it is about was acknowledged, done or cancelled before
// its turn came (a chat post waits in its channel's queue, paced, after
// the outbox took it). The Deliverer records it dropped, not sent, and
// does not try again; the task's card, where one was posted, follows the
// change on its own.
var ErrStale = errors.New("not sent: its task was closed before the message went out")

// Stale reports whether m, a notice about task t, no longer needs to go
// out: t is neither open nor unanswered. It is the rule the outbox applies
// when it takes a message (store/lua/outbox_take.lua), applied again by
// the chat surfaces just before they post, for the acknowledgement that
// lands while a post waits its turn. Only a step's notice (Kind "task")
// and the unanswered notice are about a task's state; other messages are
// never stale.
func Stale(m Message, t *store.Task) bool {
	if t == nil || (m.Kind != "task" && m.Kind != "unanswered") {
		return false
	}
	return t.Status != store.TaskOpen && t.Status != store.TaskUnanswered
}
