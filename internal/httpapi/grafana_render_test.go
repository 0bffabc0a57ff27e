package httpapi

import (
	"context"
	"testing"
	"unicode/utf8"

	"github.com/alertgram/alertgram/internal/render"
	"github.com/alertgram/alertgram/internal/telegram"
	"github.com/alertgram/alertgram/internal/testutil"
	"github.com/alertgram/alertgram/internal/tgmarkup"
)

// TestGrafanaFixturesRenderForTelegram takes every recorded Grafana payload
// through the decoder and the default template in both parse modes: each
// message must parse as Telegram parses it, fit 4096 code points, and be
// accepted by the fake Bot API.
func TestGrafanaFixturesRenderForTelegram(t *testing.T) {
	fake := testutil.NewTelegram(t, testutil.WithLimits(testutil.Limits{})) // rate limits are not under test
	client, err := telegram.New(fake.Token(), telegram.WithBaseURL(fake.URL()))
	if err != nil {
		t.Fatal(err)
	}
	r, err := render.New(render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range grafanaFixtureNames {
		g := decodeGrafanaFixture(t, name)
		for _, mode := range []render.Mode{render.MarkdownV2, render.HTML} {
			t.Run(name+"/"+string(mode), func(t *testing.T) {
				msg, err := r.Render(g, "default", mode)
				if err != nil {
					t.Fatal(err)
				}
				parsed, err := tgmarkup.Parse(string(mode), msg.Text)
				if err != nil {
					t.Fatalf("Telegram would reject it: %v\n%s", err, msg.Text)
				}
				if n := utf8.RuneCountInString(parsed.Text); n == 0 || n > render.MaxTextLength {
					t.Fatalf("parsed length %d", n)
				}
				if msg.Shown != len(g.Alerts) {
					t.Errorf("shows %d of %d alerts", msg.Shown, len(g.Alerts))
				}
				_, err = client.SendMessage(context.Background(), telegram.SendMessageParams{ChatID: -100123, Text: msg.Text, ParseMode: string(msg.ParseMode)})
				if err != nil {
					t.Fatalf("fake Telegram rejected it: %v\n%s", err, msg.Text)
				}
			})
		}
	}
}
