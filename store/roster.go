package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/muster-ops/muster/configs/roster"
)

var overrideScript = loadScript("override_add")

type overrideJSON struct {
	ID      string `json:"id"`
	Roster  string `json:"roster"`
	Person  string `json:"person"`
	From    int64  `json:"from"`
	To      int64  `json:"to"`
	By      string `json:"by"`
	Created int64  `json:"created"`
	// Reason and Overrode: an override of a refused cover.
	Reason   string `json:"reason,omitempty"`
	Overrode string `json:"overrode,omitempty"`
}

// AddOverride records a roster cover and returns it with its id (C-n),
// and queues msgs (their text may hold IDPlaceholder) in the same script.
// Its audit event (roster.override) names an override and its reason.
func (s *Store) AddOverride(ctx context.Context, o roster.Override, msgs ...OutMessage) (roster.Override, error) {
	o, _, err := s.AddCover(ctx, o, "", msgs...)
	return o, err
}

// AddCover is AddOverride for a cover that puts its person on duty at
// site now (site "" for one that does not): it also returns the roll
// calls open at that site that have not asked the person yet, read in the
// same script, for the caller to add them to (JoinRollCall).
func (s *Store) AddCover(ctx context.Context, o roster.Override, site string, msgs ...OutMessage) (roster.Override, []int64, error) {
	now := s.now()
	o.Created = time.UnixMilli(ms(now))
	b, _ := json.Marshal(overrideJSON{Roster: o.Roster, Person: o.Person, From: ms(o.From), To: ms(o.To), By: o.By, Created: ms(o.Created),
		Reason: o.Reason, Overrode: o.Overrode})
	fields := map[string]any{"roster": o.Roster, "person": o.Person, "from": o.From.UTC().Format(time.RFC3339), "to": o.To.UTC().Format(time.RFC3339)}
	if o.Reason != "" {
		// The audit keeps who overrode what, and why.
		fields["override"] = o.Reason
		fields["overrode"] = o.Overrode
	}
	data := auditData(fields)
	v, err := s.run(ctx, overrideScript, ms(now), string(b), o.By, data, outJSON(msgs), site)
	if err != nil {
		return o, nil, fmt.Errorf("add cover: %w", err)
	}
	res, _ := v.([]any)
	if len(res) == 0 {
		return o, nil, unavailable(fmt.Errorf("add cover: unexpected reply %v", v))
	}
	o.ID = toString(res[0])
	var open []int64
	for _, n := range res[1:] {
		open = append(open, toInt(n))
	}
	return o, open, nil
}

// Overrides returns every roster cover, oldest first.
func (s *Store) Overrides(ctx context.Context) ([]roster.Override, error) {
	var c *redis.MapStringStringCmd
	if err := s.read(ctx, func(p redis.Pipeliner) { c = p.HGetAll(ctx, s.Key("overrides")) }); err != nil {
		return nil, err
	}
	m := c.Val()
	out := make([]roster.Override, 0, len(m))
	for _, v := range m {
		var j overrideJSON
		if json.Unmarshal([]byte(v), &j) != nil {
			continue
		}
		out = append(out, roster.Override{ID: j.ID, Roster: j.Roster, Person: j.Person,
			From: time.UnixMilli(j.From), To: time.UnixMilli(j.To), By: j.By, Created: time.UnixMilli(j.Created),
			Reason: j.Reason, Overrode: j.Overrode})
	}
	sort.Slice(out, func(i, k int) bool {
		return out[i].Created.Before(out[k].Created) || out[i].Created.Equal(out[k].Created) && out[i].ID < out[k].ID
	})
	return out, nil
}
