package configs

import "testing"

// Lookups by id, phone, Slack and Discord id find the same person through
// the index Parse builds as by a scan, and a config changed after Parse
// (a person added, a phone changed) is still searched right.
func TestPeopleLookups(t *testing.T) {
	cfg, err := Example()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.peopleIndex == nil {
		t.Fatal("Parse built no people index")
	}
	for i := range cfg.People {
		p := &cfg.People[i]
		for what, got := range map[string]func() (*Person, bool){
			"id":      func() (*Person, bool) { return cfg.Person(p.ID) },
			"phone":   func() (*Person, bool) { return cfg.PersonByPhone(p.Phone) },
			"slack":   func() (*Person, bool) { return cfg.PersonBySlack(p.Slack) },
			"discord": func() (*Person, bool) { return cfg.PersonByDiscord(p.Discord) },
		} {
			key := map[string]string{"id": p.ID, "phone": p.Phone, "slack": p.Slack, "discord": p.Discord}[what]
			q, ok := got()
			if key == "" {
				if ok {
					t.Errorf("%s: empty %s found %s", p.ID, what, q.ID)
				}
				continue
			}
			if !ok || q != p {
				t.Errorf("%s by %s %q: got %v %v", p.ID, what, key, q, ok)
			}
		}
	}
	if _, ok := cfg.Person("nobody-at-all"); ok {
		t.Error("an unknown id was found")
	}

	cfg.People = append(cfg.People, Person{ID: "newcomer", Phone: "+447700900999"})
	cfg.People[0].Phone = "+447700900998"
	if p, ok := cfg.Person("newcomer"); !ok || p.Phone != "+447700900999" {
		t.Errorf("a person added after Parse: %v %v", p, ok)
	}
	if p, ok := cfg.PersonByPhone("+447700900998"); !ok || p.ID != cfg.People[0].ID {
		t.Errorf("a phone changed after Parse: %v %v", p, ok)
	}
}
