package render

import (
	"fmt"
	"strings"
	"testing"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/testutil"
	"github.com/alertgram/alertgram/internal/tgmarkup"
)

// stormGroups builds n distinct firing groups of two alerts each, every
// third one critical and every fifth one resolved.
func stormGroups(n int) []*alert.Group {
	groups := make([]*alert.Group, n)
	for i := range groups {
		g := manyAlerts(2)
		name := fmt.Sprintf("Storm_%03d-x.y", i)
		g.GroupKey = fmt.Sprintf(`{}:{alertname=%q}`, name)
		g.GroupLabels = map[string]string{"alertname": name}
		g.CommonLabels = map[string]string{"alertname": name, "job": "node"}
		for j := range g.Alerts {
			g.Alerts[j].Labels["alertname"] = name
			g.Alerts[j].Labels["severity"] = map[bool]string{true: "critical", false: "warning"}[i%3 == 0]
		}
		if i%5 == 4 {
			g.Status = alert.StatusResolved
			for j := range g.Alerts {
				g.Alerts[j].Status = alert.StatusResolved
				g.Alerts[j].EndsAt = g.Alerts[j].StartsAt.Add(90e9)
			}
		}
		groups[i] = g
	}
	return groups
}

func TestDigestOrdersFitsAndDefers(t *testing.T) {
	fake := testutil.NewTelegram(t, testutil.WithLimits(testutil.Limits{}))
	r := newTestRenderer(t, Options{})
	groups := stormGroups(400)
	for _, mode := range []Mode{MarkdownV2, HTML, Plain} {
		dg, err := r.RenderDigest(groups, "default", mode)
		if err != nil {
			t.Fatal(err)
		}
		n, err := tgmarkup.Length(string(mode), dg.Text)
		if err != nil || n > MaxTextLength {
			t.Fatalf("%s: length %d, %v", mode, n, err)
		}
		if len(dg.Included) < 20 || len(dg.Included) >= len(groups) {
			t.Fatalf("%s: %d groups included; a digest should carry many but not all of 400", mode, len(dg.Included))
		}
		// Most urgent first: firing critical, then firing warning, then resolved.
		prev := -1
		for _, i := range dg.Included {
			rank := 1
			switch {
			case groups[i].Status == alert.StatusResolved:
				rank = 2
			case i%3 == 0:
				rank = 0
			}
			if rank < prev {
				t.Fatalf("%s: group %d (rank %d) after rank %d", mode, i, rank, prev)
			}
			prev = rank
		}
		parsed, _ := tgmarkup.Parse(string(mode), dg.Text)
		if want := fmt.Sprintf("+%d more group(s) in the next message", len(groups)-len(dg.Included)); !strings.Contains(parsed.Text, want) {
			t.Errorf("%s: digest does not say %q", mode, want)
		}
		mustSend(t, fake, -100, dg.Message)
	}
}

func TestDigestGolden(t *testing.T) {
	r := newTestRenderer(t, Options{})
	for mode, ext := range modes {
		dg, err := r.RenderDigest(stormGroups(6), "default", mode)
		if err != nil {
			t.Fatal(err)
		}
		if len(dg.Included) != 6 || strings.Contains(dg.Text, "more group") {
			t.Errorf("%s: a small digest must carry every group", mode)
		}
		testutil.Golden(t, "testdata/digest."+ext+".golden", []byte(dg.Text))
	}
}

func TestResolvedReply(t *testing.T) {
	r := newTestRenderer(t, Options{})
	g := loadGroup(t, "testdata/resolved.json")
	msg, err := r.Render(g, "resolved_reply", MarkdownV2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(msg.Text, "✅ *RESOLVED: ") || strings.Count(msg.Text, "\n") != 0 {
		t.Errorf("resolved reply: %q", msg.Text)
	}
}
