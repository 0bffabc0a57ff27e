package config

import "time"

// Links bounds the subscription links that `alertgram link` and the admin
// API make. A link is a bearer credential for a route's alerts until it is
// used, so it must not stay valid for years.
type Links struct {
	// MaxTTL is the longest lifetime a link may be given; default 30
	// days. A longer --ttl (or "ttl" in the admin API) is refused.
	MaxTTL time.Duration `yaml:"max_ttl"`
}

// DefaultLinkMaxTTL is links.max_ttl when not set.
const DefaultLinkMaxTTL = 30 * 24 * time.Hour

// maxLinkMaxTTL bounds links.max_ttl itself: a year.
const maxLinkMaxTTL = 365 * 24 * time.Hour

func (p *problems) links(l Links) {
	if l.MaxTTL <= 0 || l.MaxTTL > maxLinkMaxTTL {
		p.addf("links.max_ttl", "%v: must be positive and at most %v, a year (default %v)", l.MaxTTL, maxLinkMaxTTL, DefaultLinkMaxTTL)
	}
}
