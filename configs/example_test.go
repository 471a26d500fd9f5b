package configs

import "testing"

func TestExampleIsValid(t *testing.T) {
	cfg, err := Example()
	if err != nil {
		t.Fatalf("embedded example does not load:\n%v", err)
	}
	if len(cfg.Sites) != 2 || len(cfg.People) < 8 || len(cfg.Plans) < 3 || len(cfg.Policies) < 2 {
		t.Fatalf("example too small: %d sites, %d people, %d plans, %d policies",
			len(cfg.Sites), len(cfg.People), len(cfg.Plans), len(cfg.Policies))
	}
}
