package alertmanager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Silence states, as Alertmanager reports them.
const (
	StateActive  = "active"
	StatePending = "pending"
	StateExpired = "expired"
)

// Matcher matches one label. IsEqual false negates it (!= or !~); a regex
// is anchored by Alertmanager (^(?:value)$).
type Matcher struct {
	Name, Value      string
	IsRegex, IsEqual bool
}

// String gives the matcher in Alertmanager's syntax, e.g. name="value" or
// name!~"v.*", quoted as Alertmanager itself prints it (only \, " and
// newline escaped), so it can be used as a filter.
func (m Matcher) String() string {
	op := "="
	switch {
	case m.IsRegex && m.IsEqual:
		op = "=~"
	case m.IsRegex:
		op = "!~"
	case !m.IsEqual:
		op = "!="
	}
	return m.Name + op + `"` + matcherValueEscaper.Replace(m.Value) + `"`
}

var matcherValueEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

// MatchersFromLabels returns one equality matcher per label, sorted by
// name: a silence that matches exactly this label set.
func MatchersFromLabels(labels map[string]string) []Matcher {
	ms := make([]Matcher, 0, len(labels))
	for name, value := range labels {
		ms = append(ms, Matcher{Name: name, Value: value, IsEqual: true})
	}
	slices.SortFunc(ms, func(a, b Matcher) int { return strings.Compare(a.Name, b.Name) })
	return ms
}

// Silence is a silence as created or read. ID empty creates a new one; set
// it to update an existing silence. State and UpdatedAt are read only.
type Silence struct {
	ID                 string
	Matchers           []Matcher
	StartsAt, EndsAt   time.Time
	CreatedBy, Comment string
	State              string // StateActive, StatePending or StateExpired
	UpdatedAt          time.Time
}

// wireMatcher is a matcher in API v2 JSON. isRegex is required and must be
// present, so neither field has omitempty; isEqual is a pointer because
// Alertmanagers before 0.22 do not send it, and missing means true.
type wireMatcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual *bool  `json:"isEqual"`
}

// postableSilence is the body of POST silences. createdBy and comment are
// required to be present, so no omitempty.
type postableSilence struct {
	ID        string        `json:"id,omitempty"`
	Matchers  []wireMatcher `json:"matchers"`
	StartsAt  time.Time     `json:"startsAt"`
	EndsAt    time.Time     `json:"endsAt"`
	CreatedBy string        `json:"createdBy"`
	Comment   string        `json:"comment"`
}

// gettableSilence is a silence as GET silence(s) returns it.
type gettableSilence struct {
	ID     string `json:"id"`
	Status struct {
		State string `json:"state"`
	} `json:"status"`
	UpdatedAt time.Time     `json:"updatedAt"`
	Matchers  []wireMatcher `json:"matchers"`
	StartsAt  time.Time     `json:"startsAt"`
	EndsAt    time.Time     `json:"endsAt"`
	CreatedBy string        `json:"createdBy"`
	Comment   string        `json:"comment"`
}

func toWire(ms []Matcher) []wireMatcher {
	out := make([]wireMatcher, len(ms))
	for i, m := range ms {
		out[i] = wireMatcher{Name: m.Name, Value: m.Value, IsRegex: m.IsRegex, IsEqual: &m.IsEqual}
	}
	return out
}

func fromWire(ms []wireMatcher) []Matcher {
	out := make([]Matcher, len(ms))
	for i, m := range ms {
		out[i] = Matcher{Name: m.Name, Value: m.Value, IsRegex: m.IsRegex, IsEqual: m.IsEqual == nil || *m.IsEqual}
	}
	return out
}

func (g gettableSilence) silence() Silence {
	return Silence{
		ID: g.ID, Matchers: fromWire(g.Matchers),
		StartsAt: g.StartsAt, EndsAt: g.EndsAt,
		CreatedBy: g.CreatedBy, Comment: g.Comment,
		State: g.Status.State, UpdatedAt: g.UpdatedAt,
	}
}

// CreateSilence creates s (or updates it, when s.ID is set) and returns the
// silence's id. Always use the returned id: Alertmanager creates a new
// silence, and expires the old one, when an update cannot be done in place.
func (c *Client) CreateSilence(ctx context.Context, s Silence) (string, error) {
	body, err := json.Marshal(postableSilence{
		ID: s.ID, Matchers: toWire(s.Matchers),
		StartsAt: s.StartsAt.UTC(), EndsAt: s.EndsAt.UTC(),
		CreatedBy: s.CreatedBy, Comment: s.Comment,
	})
	if err != nil {
		return "", fmt.Errorf("%s: encoding silence: %w", c.flavor, err)
	}
	var out struct {
		SilenceID string `json:"silenceID"`
	}
	r := request{method: http.MethodPost, path: []string{"silences"}, body: body}
	if err := c.do(ctx, r, &out); err != nil {
		return "", err
	}
	if out.SilenceID == "" {
		return "", fmt.Errorf("%s: POST silences: the answer has no silenceID", c.flavor)
	}
	return out.SilenceID, nil
}

// ExpireSilence expires the silence id. Expiring an already expired
// silence succeeds; an unknown id gives an error matching
// ErrSilenceNotFound (errors.Is).
func (c *Client) ExpireSilence(ctx context.Context, id string) error {
	seg, err := pathID(id)
	if err != nil {
		return fmt.Errorf("%s: %w", c.flavor, err)
	}
	return c.do(ctx, request{method: http.MethodDelete, path: []string{"silence", seg}}, nil)
}

// GetSilence returns the silence id; an unknown id gives an error matching
// ErrSilenceNotFound.
func (c *Client) GetSilence(ctx context.Context, id string) (Silence, error) {
	seg, err := pathID(id)
	if err != nil {
		return Silence{}, fmt.Errorf("%s: %w", c.flavor, err)
	}
	var g gettableSilence
	if err := c.do(ctx, request{method: http.MethodGet, path: []string{"silence", seg}}, &g); err != nil {
		return Silence{}, err
	}
	if g.ID == "" {
		return Silence{}, errors.New(c.flavor.String() + ": GET silence: the answer has no id")
	}
	return g.silence(), nil
}

// Silences lists silences (expired ones too, until Alertmanager garbage
// collects them). Each filter is a matcher string such as
// alertname="Foo"; it matches a silence's own matchers literally (same
// name, operator and value), not the labels of alerts.
func (c *Client) Silences(ctx context.Context, filters []string) ([]Silence, error) {
	var gs []gettableSilence
	r := request{method: http.MethodGet, path: []string{"silences"}, query: filterQuery(filters)}
	if err := c.do(ctx, r, &gs); err != nil {
		return nil, err
	}
	out := make([]Silence, len(gs))
	for i, g := range gs {
		out[i] = g.silence()
	}
	return out, nil
}
