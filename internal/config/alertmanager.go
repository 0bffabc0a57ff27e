package config

import (
	"errors"
	"slices"
	"time"
)

// Defaults of the API clients (alertmanager and grafana).
const (
	DefaultAPITimeout = 10 * time.Second
	maxAPITimeout     = 5 * time.Minute
)

func defaultAlertmanager() Alertmanager {
	return Alertmanager{URL: DefaultAlertmanager, Timeout: DefaultAPITimeout, HTTPConfig: DefaultHTTPClientConfig()}
}

// Endpoints returns the Alertmanager URLs to try, in order: urls, or url
// alone.
func (a Alertmanager) Endpoints() []string {
	if len(a.URLs) > 0 {
		return slices.Clone(a.URLs)
	}
	if a.URL == "" {
		return nil
	}
	return []string{a.URL}
}

// yieldDefaultURL drops url's default when the file sets urls and not url:
// the default is not the user's choice, so it must not conflict.
func (a *Alertmanager) yieldDefaultURL(set map[string]bool) {
	if set["alertmanager.urls"] && !set["alertmanager.url"] {
		a.URL = ""
	}
}

// alertmanager validates the alertmanager block.
func (p *problems) alertmanager(a *Alertmanager) {
	switch {
	case a.URL != "" && a.URLs != nil:
		*p = append(*p, errors.New("alertmanager.url and alertmanager.urls are mutually exclusive: set one of them"))
	case a.URLs != nil:
		p.urlList("alertmanager.urls", a.URLs)
	default:
		p.httpURL("alertmanager.url", a.URL)
	}
	p.apiTimeout("alertmanager.timeout", a.Timeout)
	p.httpClientConfig("alertmanager.http_config", a.HTTPConfig)
}

// urlList checks a non-empty list of distinct http(s) URLs.
func (p *problems) urlList(key string, urls []string) {
	if len(urls) == 0 {
		p.addf(key, "must not be empty")
	}
	for i, u := range urls {
		k := indexKey(key, i)
		if j := slices.Index(urls, u); j < i {
			p.addf(k, "duplicate of %s", indexKey(key, j))
			continue
		}
		p.httpURL(k, u)
	}
}

func (p *problems) apiTimeout(key string, d time.Duration) {
	if d <= 0 || d > maxAPITimeout {
		p.addf(key, "%v must be more than 0s and at most %v", d, maxAPITimeout)
	}
}
