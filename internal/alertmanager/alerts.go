package alertmanager

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Alert states, as Alertmanager reports them.
const (
	AlertUnprocessed = "unprocessed"
	AlertActive      = "active"
	AlertSuppressed  = "suppressed"
)

// Alert is an alert as Alertmanager holds it.
type Alert struct {
	Fingerprint  string
	Labels       map[string]string
	Annotations  map[string]string
	StartsAt     time.Time
	EndsAt       time.Time // when it will be considered resolved
	UpdatedAt    time.Time
	GeneratorURL string
	Receivers    []string
	State        string   // AlertUnprocessed, AlertActive or AlertSuppressed
	SilencedBy   []string // silence ids
	InhibitedBy  []string // fingerprints of inhibiting alerts
}

// AlertsQuery selects alerts. Filters are matcher strings matched against
// alert labels (see Matcher.String). Active, Silenced, Inhibited and
// Unprocessed choose which alerts to include; when none is set all are
// included, as in Alertmanager's defaults (so the zero query lists
// everything). Receiver, if set, is a regex on receiver names.
type AlertsQuery struct {
	Filters     []string
	Active      bool
	Silenced    bool
	Inhibited   bool
	Unprocessed bool
	Receiver    string
}

// gettableAlert is an alert as GET alerts returns it.
type gettableAlert struct {
	Fingerprint  string            `json:"fingerprint"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	UpdatedAt    time.Time         `json:"updatedAt"`
	GeneratorURL string            `json:"generatorURL"`
	Receivers    []struct {
		Name string `json:"name"`
	} `json:"receivers"`
	Status struct {
		State       string   `json:"state"`
		SilencedBy  []string `json:"silencedBy"`
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
}

func (q AlertsQuery) values() url.Values {
	v := filterQuery(q.Filters)
	if q.Active || q.Silenced || q.Inhibited || q.Unprocessed {
		v.Set("active", strconv.FormatBool(q.Active))
		v.Set("silenced", strconv.FormatBool(q.Silenced))
		v.Set("inhibited", strconv.FormatBool(q.Inhibited))
		v.Set("unprocessed", strconv.FormatBool(q.Unprocessed))
	}
	if q.Receiver != "" {
		v.Set("receiver", q.Receiver)
	}
	return v
}

// Alerts lists the alerts q selects.
func (c *Client) Alerts(ctx context.Context, q AlertsQuery) ([]Alert, error) {
	var gs []gettableAlert
	if err := c.do(ctx, request{method: http.MethodGet, path: []string{"alerts"}, query: q.values()}, &gs); err != nil {
		return nil, err
	}
	out := make([]Alert, len(gs))
	for i, g := range gs {
		out[i] = g.alert()
	}
	return out, nil
}

func (g gettableAlert) alert() Alert {
	a := Alert{
		Fingerprint: g.Fingerprint, Labels: g.Labels, Annotations: g.Annotations,
		StartsAt: g.StartsAt, EndsAt: g.EndsAt, UpdatedAt: g.UpdatedAt,
		GeneratorURL: g.GeneratorURL, State: g.Status.State,
		SilencedBy: g.Status.SilencedBy, InhibitedBy: g.Status.InhibitedBy,
	}
	for _, r := range g.Receivers {
		a.Receivers = append(a.Receivers, r.Name)
	}
	return a
}
