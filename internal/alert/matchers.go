package alert

import (
	"fmt"

	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"
)

// NormaliseMatchers parses Alertmanager matcher strings (`severity=critical`,
// `team=~"db|infra"`, `env!="dev"`) and returns them in canonical form, or an
// error naming the first invalid one.
func NormaliseMatchers(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, s := range in {
		m, err := labels.ParseMatcher(s)
		if err != nil {
			return nil, fmt.Errorf("matcher %q: %w", s, err)
		}
		out = append(out, m.String())
	}
	return out, nil
}

// MatchesAny reports whether at least one alert of g matches every matcher.
// A subscription with no matchers receives every notification of its route.
func MatchesAny(g *Group, matchers []string) (bool, error) {
	if len(matchers) == 0 {
		return true, nil
	}
	ms := make(labels.Matchers, 0, len(matchers))
	for _, s := range matchers {
		m, err := labels.ParseMatcher(s)
		if err != nil {
			return false, fmt.Errorf("matcher %q: %w", s, err)
		}
		ms = append(ms, m)
	}
	for _, a := range g.Alerts {
		ls := make(model.LabelSet, len(a.Labels))
		for k, v := range a.Labels {
			ls[model.LabelName(k)] = model.LabelValue(v)
		}
		if ms.Matches(ls) {
			return true, nil
		}
	}
	return false, nil
}
