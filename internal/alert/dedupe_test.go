package alert

import (
	"testing"
	"time"
)

func TestDedupeKey(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	base := func() *Group {
		return &Group{Source: SourceAlertmanager, Route: "oncall", GroupKey: `{}:{alertname="A"}`, Status: StatusFiring,
			Alerts: []Alert{
				{Fingerprint: "aaaa", Status: StatusFiring, StartsAt: t0, Annotations: map[string]string{"summary": "x"}},
				{Fingerprint: "bbbb", Status: StatusFiring, StartsAt: t0},
			}}
	}
	key := base().DedupeKey()
	same := []func(g *Group){
		func(g *Group) { g.Alerts[0], g.Alerts[1] = g.Alerts[1], g.Alerts[0] }, // order
		func(g *Group) { g.Alerts[0].Annotations["summary"] = "y" },            // annotations
		func(g *Group) { g.Receiver = "other" },                                // receiver name
	}
	different := []func(g *Group){
		func(g *Group) { g.Route = "db" },
		func(g *Group) { g.GroupKey = `{}:{alertname="B"}` },
		func(g *Group) { g.Status = StatusResolved },
		func(g *Group) { g.Alerts[1].Status = StatusResolved; g.Alerts[1].EndsAt = t0.Add(time.Minute) },
		func(g *Group) { g.Alerts = g.Alerts[:1] },
		func(g *Group) { g.Alerts[0].StartsAt = t0.Add(time.Second) },
		func(g *Group) { g.Alerts[0].Fingerprint = "cccc" },
	}
	for i, change := range same {
		g := base()
		change(g)
		if g.DedupeKey() != key {
			t.Errorf("same[%d] changed the key", i)
		}
	}
	for i, change := range different {
		g := base()
		change(g)
		if g.DedupeKey() == key {
			t.Errorf("different[%d] kept the key", i)
		}
	}
}
