package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

//go:embed lua/*.lua
var luaFiles embed.FS

// loadScript joins the shared prelude with one script's body. Every
// script takes the namespace prefix as KEYS[1].
func loadScript(name string) *redis.Script {
	prelude, err := luaFiles.ReadFile("lua/prelude.lua")
	if err != nil {
		panic(err) // embedded at build time: cannot happen
	}
	body, err := luaFiles.ReadFile("lua/" + name + ".lua")
	if err != nil {
		panic(fmt.Sprintf("store: no embedded script %q", name))
	}
	return redis.NewScript(string(prelude) + "\n" + string(body))
}

// run executes a script with the namespace prefix as KEYS[1] and maps the
// scripts' error replies to the package's sentinels. When ctx carries a
// pending replay guard (guard.go), the script carries it: its key is
// KEYS[2] and its TTL the last ARGV, which the prelude takes off, sets NX,
// and answers 'replayed' before the body runs when it was already set.
func (s *Store) run(ctx context.Context, sc *redis.Script, args ...any) (any, error) {
	g, err := s.take(ctx)
	if err != nil {
		return nil, err
	}
	keys, args := s.scriptKeys(g, args)
	v, err := sc.Run(ctx, s.rdb, keys, args...).Result()
	err = s.scriptErr(err)
	if g != nil {
		switch {
		case errors.Is(err, ErrReplayed):
			s.settled(g, true)
		case errors.Is(err, ErrUnavailable) && !scriptAnswered(err):
			// Unknown: Redis unreachable (the local memory decides) or
			// not answering in time (nothing of the command goes on).
			if rerr := s.settleFailed(ctx, g, err); rerr != nil {
				return nil, rerr
			}
		default:
			// Ran (ErrNotReplicated included: written, not confirmed).
			s.settled(g, false)
		}
	}
	return v, err
}

// scriptErr maps "notfound" and "state:<status>" replies of our scripts
// to sentinels; anything else means Redis itself failed.
func (s *Store) scriptErr(err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		return err
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		// Redis may prefix a script's error reply with "ERR ".
		msg := strings.TrimPrefix(rerr.Error(), "ERR ")
		switch {
		case msg == "notfound":
			return ErrNotFound
		case msg == "replayed":
			return ErrReplayed
		case strings.HasPrefix(msg, "state:"):
			return &StateError{Status: strings.TrimPrefix(msg, "state:")}
		}
	}
	if errors.Is(err, ErrNotReplicated) {
		// The script ran: it is saved on the primary, not yet confirmed.
		return err
	}
	return unavailable(err)
}

// scriptAnswered reports whether err is one of our scripts' own error
// replies (lowercase, "notassigned:..."), which come after the prelude
// set the guard: the script ran. Redis's own refusals are upper case
// (NOREPLICAS, READONLY, BUSY) and mean it did not.
func scriptAnswered(err error) bool {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	msg := strings.TrimPrefix(rerr.Error(), "ERR ")
	return msg != "" && msg[0] >= 'a' && msg[0] <= 'z'
}

// StateError says what state blocked a transition. It matches
// ErrWrongState with errors.Is.
type StateError struct{ Status string }

func (e *StateError) Error() string { return "wrong state: " + e.Status }

// Is makes errors.Is(err, ErrWrongState) true.
func (e *StateError) Is(target error) bool { return target == ErrWrongState }
