package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Board sign-in: a one-time link from /muster board, exchanged for a
// session. Only hashes of the secrets are kept in Redis, so a copy of the
// database opens no board.
const (
	// BoardLinkTTL is how long a sign-in link may be used, once.
	BoardLinkTTL = 10 * time.Minute
	// BoardSessionTTL is how long a board session lasts.
	BoardSessionTTL = 12 * time.Hour
)

// BoardSession is a signed-in board viewer.
type BoardSession struct {
	Person string
	// CSRF is the token every POST of the session must carry.
	CSRF    string
	Created time.Time
}

// ErrBadLink: the sign-in link is unknown, used or expired.
var ErrBadLink = errors.New("sign-in link unknown, used or expired")

func secret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

func hashed(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

var (
	boardLinkScript    = loadScript("board_link")
	boardSessionScript = loadScript("board_session")
	boardLogoutScript  = loadScript("board_logout")
)

// NewBoardLink makes a one-time sign-in link token for person, valid for
// BoardLinkTTL, and records it in the audit chain.
func (s *Store) NewBoardLink(ctx context.Context, person string) (string, error) {
	tok, err := secret()
	if err != nil {
		return "", err
	}
	if _, err := s.run(ctx, boardLinkScript, ms(s.now()), hashed(tok), person, BoardLinkTTL.Milliseconds()); err != nil {
		return "", fmt.Errorf("board link: %w", err)
	}
	return tok, nil
}

// OpenBoardSession exchanges a sign-in link token for a session (once:
// the link is deleted in the same script) and returns the session id
// (the cookie's value) and the session. ErrBadLink when the link is
// unknown, used or expired.
func (s *Store) OpenBoardSession(ctx context.Context, link string) (string, *BoardSession, error) {
	id, err := secret()
	if err != nil {
		return "", nil, err
	}
	csrf, err := secret()
	if err != nil {
		return "", nil, err
	}
	now := s.now()
	v, err := s.run(ctx, boardSessionScript, ms(now), hashed(link), hashed(id), csrf, BoardSessionTTL.Milliseconds())
	if errors.Is(err, ErrNotFound) {
		return "", nil, ErrBadLink
	}
	if err != nil {
		return "", nil, fmt.Errorf("board session: %w", err)
	}
	return id, &BoardSession{Person: toString(v), CSRF: csrf, Created: now}, nil
}

// BoardSession reads a session by its id; ErrNotFound when it is unknown,
// expired or revoked.
func (s *Store) BoardSession(ctx context.Context, id string) (*BoardSession, error) {
	if id == "" {
		return nil, ErrNotFound
	}
	var c *redis.MapStringStringCmd
	if err := s.read(ctx, func(p redis.Pipeliner) { c = p.HGetAll(ctx, s.Key("board", "session", hashed(id))) }); err != nil {
		return nil, err
	}
	m := c.Val()
	if len(m) == 0 || ms(s.now()) > toInt(m["expires"]) {
		return nil, ErrNotFound
	}
	return &BoardSession{Person: m["person"], CSRF: m["csrf"], Created: fromMS(toInt(m["created"]))}, nil
}

// EndBoardSessions revokes every board session of person and returns how
// many there were; actor is who asked (the audit event's actor).
func (s *Store) EndBoardSessions(ctx context.Context, actor, person string) (int, error) {
	v, err := s.run(ctx, boardLogoutScript, ms(s.now()), actor, person)
	if err != nil {
		return 0, fmt.Errorf("board logout: %w", err)
	}
	return int(toInt(v)), nil
}

// WaitChanges blocks up to block for records changed after the changes
// stream id after ("$": from now) and returns the newest id seen and the
// refs that changed. Every process reads the whole stream (no consumer
// group): each serves its own board viewers.
func (s *Store) WaitChanges(ctx context.Context, after string, block time.Duration) (string, []string, error) {
	if after == "" {
		after = "$"
	}
	if after == "$" {
		// Pin "now" to an id, so no change between two calls is lost.
		last, err := s.rdb.XRevRangeN(s.carry(ctx), s.Key("changes"), "+", "-", 1).Result()
		if err != nil {
			return after, nil, unavailable(err)
		}
		after = "0-0"
		if len(last) > 0 {
			after = last[0].ID
		}
	}
	res, err := s.rdb.XRead(s.carry(ctx), &redis.XReadArgs{Streams: []string{s.Key("changes"), after}, Count: 1000, Block: block}).Result()
	if errors.Is(err, redis.Nil) {
		return after, nil, nil
	}
	if err != nil {
		return after, nil, unavailable(err)
	}
	var refs []string
	for _, st := range res {
		for _, m := range st.Messages {
			after = m.ID
			refs = append(refs, toString(m.Values["ref"]))
		}
	}
	return after, refs, nil
}
