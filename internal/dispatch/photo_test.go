package dispatch

import (
	"context"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/render"
	"github.com/alertgram/alertgram/internal/store"
	"github.com/alertgram/alertgram/internal/telegram"
	"github.com/alertgram/alertgram/internal/testutil"
)

const testImage = "https://grafana.example.com/public/img/attachments/Jx3kQ9mZ1vT0bR7s.png"

// recordingButtons gives every firing message an Ack button and records
// what the dispatcher reports once the message is sent.
type recordingButtons struct {
	mu   sync.Mutex
	sent []sentReport
}

type sentReport struct {
	messageID int64
	text      string
	photo     bool
	image     string
}

var _ Buttons = (*recordingButtons)(nil)

func (b *recordingButtons) Keyboard(context.Context, string, store.Target, *alert.Group) (*telegram.InlineKeyboardMarkup, func(context.Context, int64, render.Message, bool, string)) {
	kb := &telegram.InlineKeyboardMarkup{InlineKeyboard: [][]telegram.InlineKeyboardButton{{{Text: "✅ Ack", CallbackData: "ack-0001"}}}}
	return kb, func(_ context.Context, id int64, sent render.Message, photo bool, image string) {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.sent = append(b.sent, sentReport{id, sent.Text, photo, image})
	}
}

func (b *recordingButtons) GroupResolved(context.Context, string, string) {}

func (b *recordingButtons) reports() []sentReport {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]sentReport(nil), b.sent...)
}

// withImage is a one-alert group whose alert carries image; description,
// if set, replaces the alert's description.
func withImage(status alert.Status, image, description string) *alert.Group {
	g := group(testRoute, "CPUHigh", status, 1)
	g.Alerts[0].ImageURL = image
	if description != "" {
		g.Alerts[0].Annotations["description"] = description
	}
	return g
}

// previewOf decodes the link_preview_options of a recorded call.
func previewOf(t *testing.T, c testutil.Call) telegram.LinkPreviewOptions {
	t.Helper()
	var lp telegram.LinkPreviewOptions
	if err := c.Decode("link_preview_options", &lp); err != nil {
		t.Fatalf("%s link_preview_options %q: %v", c.Method, c.Params["link_preview_options"], err)
	}
	return lp
}

// TestAlertImage: a single group whose alert has an image goes out as one
// photo with the message as its caption when it fits a caption, else as
// text with the image as its link preview; when Telegram refuses the
// photo, as text without it.
func TestAlertImage(t *testing.T) {
	long := strings.Repeat("p99 latency of checkout is above 500ms. ", 40) // ~1600 characters
	tests := []struct {
		name      string
		group     *alert.Group
		setup     func(*testutil.Telegram)
		photos    int // sendPhoto calls, refused ones included
		texts     int // sendMessage calls
		fallbacks float64
		check     func(t *testing.T, m testutil.Message, calls []testutil.Call, rep sentReport)
	}{{
		name:   "short caption: one photo with caption, keyboard, topic and silence",
		group:  withImage(alert.StatusFiring, testImage, ""),
		photos: 1,
		check: func(t *testing.T, m testutil.Message, _ []testutil.Call, rep sentReport) {
			if m.Method != "sendPhoto" || m.Photo != testImage || m.ParseMode != "HTML" || m.ThreadID != 7 || !m.DisableNotification {
				t.Errorf("message: %s of %q, parse_mode %q, thread %d, silent %v; want a silent HTML sendPhoto of the image into topic 7",
					m.Method, m.Photo, m.ParseMode, m.ThreadID, m.DisableNotification)
			}
			if !strings.HasPrefix(m.ParsedText, "🔥 FIRING: CPUHigh") || !strings.Contains(m.ParsedText, "p99 latency") {
				t.Errorf("caption %q, want the rendered alert", m.ParsedText)
			}
			if m.ReplyMarkup == nil || m.ReplyMarkup.InlineKeyboard[0][0].CallbackData != "ack-0001" {
				t.Errorf("keyboard %+v, want the Ack button", m.ReplyMarkup)
			}
			if !rep.photo || rep.image != testImage || rep.messageID != m.MessageID || rep.text != m.Text {
				t.Errorf("buttons told %+v, want the photo's id, caption and image", rep)
			}
		},
	}, {
		name:   "text too long for a caption: text with the image as a large link preview",
		group:  withImage(alert.StatusFiring, testImage, long),
		texts:  1,
		photos: 0,
		check: func(t *testing.T, m testutil.Message, calls []testutil.Call, rep sentReport) {
			if m.Method != "sendMessage" || utf8.RuneCountInString(m.ParsedText) <= render.MaxCaptionLength {
				t.Errorf("message: %s of %d characters, want sendMessage of more than a caption holds", m.Method, utf8.RuneCountInString(m.ParsedText))
			}
			if lp := previewOf(t, calls[0]); lp.IsDisabled || lp.URL != testImage || !lp.PreferLargeMedia {
				t.Errorf("link_preview_options %+v, want the image, large", lp)
			}
			if m.ReplyMarkup == nil {
				t.Error("the text lost its keyboard")
			}
			if rep.photo || rep.image != testImage {
				t.Errorf("buttons told %+v, want a text showing the image", rep)
			}
		},
	}, {
		name:  "photo URL refused: the text without the image",
		group: withImage(alert.StatusFiring, testImage, ""),
		setup: func(f *testutil.Telegram) {
			f.FailNext("sendPhoto", 400, "Bad Request: wrong file identifier/HTTP URL specified", 0)
		},
		photos: 1, texts: 1,
		check: wantTextWithoutImage,
	}, {
		name:  "photo URL Telegram cannot download: the text without the image",
		group: withImage(alert.StatusFiring, testImage, ""),
		setup: func(f *testutil.Telegram) {
			f.FailNext("sendPhoto", 400, "Bad Request: failed to get HTTP URL content", 0)
		},
		photos: 1, texts: 1,
		check: wantTextWithoutImage,
	}, {
		name:   "image URL Telegram cannot reach (single-label host): text only",
		group:  withImage(alert.StatusFiring, "http://grafana:3000/public/img/attachments/a.png", ""),
		texts:  1,
		photos: 0,
		check:  wantTextWithoutImage,
	}, {
		name:  "caption Telegram cannot parse: the photo again with a plain caption",
		group: withImage(alert.StatusFiring, testImage, ""),
		setup: func(f *testutil.Telegram) {
			f.FailNext("sendPhoto", 400, `Bad Request: can't parse entities: Unsupported start tag "x" at byte offset 3`, 0)
		},
		photos: 2, fallbacks: 1,
		check: func(t *testing.T, m testutil.Message, calls []testutil.Call, rep sentReport) {
			if m.Method != "sendPhoto" || m.ParseMode != "" || !strings.HasPrefix(m.ParsedText, "FIRING: CPUHigh") {
				t.Errorf("message: %s, parse_mode %q, caption %q; want a plain-text photo caption", m.Method, m.ParseMode, m.ParsedText)
			}
			if !rep.photo || rep.text != m.Text {
				t.Errorf("buttons told %+v, want the plain caption of a photo", rep)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			buttons := &recordingButtons{}
			d, st, fake, _ := newTestDispatcher(t, testOpts{
				reg:    reg,
				chats:  []store.Target{{ChatID: chatA, ThreadID: 7}},
				routes: map[string]RouteSpec{testRoute: {ParseMode: render.HTML, Template: "default", SendResolved: true, SilentSeverities: []string{"warning"}}},
				config: func(c *Config) { c.Buttons = buttons },
			})
			fake.AddTopic(chatA, 7)
			if tt.setup != nil {
				tt.setup(fake)
			}
			enqueue(t, d, tt.group)
			round(t, d)

			if p, m := len(fake.Calls("sendPhoto")), len(fake.Calls("sendMessage")); p != tt.photos || m != tt.texts {
				t.Fatalf("%d sendPhoto and %d sendMessage calls, want %d and %d", p, m, tt.photos, tt.texts)
			}
			msgs := fake.MessagesIn(chatA)
			if len(msgs) != 1 {
				t.Fatalf("chat got %d messages, want 1: %+v", len(msgs), msgs)
			}
			reps := buttons.reports()
			if len(reps) != 1 {
				t.Fatalf("buttons told of %d messages, want 1", len(reps))
			}
			wantCounts(t, st, map[string]int{store.StateDelivered: 1})
			ref, ok, err := st.GetMessageRef(t.Context(), chatA, 7, testRoute, tt.group.GroupKey)
			if err != nil || !ok || ref.Photo != (msgs[0].Method == "sendPhoto") || ref.MessageID != msgs[0].MessageID {
				t.Errorf("message ref = %+v, %v, %v; want message %d, photo %v", ref, ok, err, msgs[0].MessageID, msgs[0].Method == "sendPhoto")
			}
			if got := counterValue(t, reg, fallbacksMx); got != tt.fallbacks {
				t.Errorf("%s = %v, want %v", fallbacksMx, got, tt.fallbacks)
			}
			tt.check(t, msgs[0], fake.Calls("sendMessage"), reps[0])
		})
	}
}

func wantTextWithoutImage(t *testing.T, m testutil.Message, calls []testutil.Call, rep sentReport) {
	t.Helper()
	if m.Method != "sendMessage" || !strings.HasPrefix(m.ParsedText, "🔥 FIRING: CPUHigh") || m.ReplyMarkup == nil {
		t.Errorf("message: %s %q with keyboard %+v; want the alert as text with its keyboard", m.Method, m.ParsedText, m.ReplyMarkup)
	}
	if lp := previewOf(t, calls[len(calls)-1]); !lp.IsDisabled || lp.URL != "" {
		t.Errorf("link_preview_options %+v, want previews off", lp)
	}
	if rep.photo || rep.image != "" {
		t.Errorf("buttons told %+v, want a text without image", rep)
	}
}

// TestResolveAlertImage: the resolution of a group sent as a photo edits
// the photo's caption (editMessageText cannot); one sent as text with the
// image as preview keeps a preview; a reference that has the kind wrong is
// corrected.
func TestResolveAlertImage(t *testing.T) {
	long := strings.Repeat("p99 latency of checkout is back below 500ms. ", 40)
	tests := []struct {
		name     string
		firing   *alert.Group
		resolved *alert.Group
		wrongRef bool // the reference is rewritten to say "text" before the resolution
		method   string
		check    func(t *testing.T, e testutil.Edit, fake *testutil.Telegram)
	}{{
		name:     "photo: editMessageCaption",
		firing:   withImage(alert.StatusFiring, testImage, ""),
		resolved: withImage(alert.StatusResolved, testImage, ""),
		method:   "editMessageCaption",
		check: func(t *testing.T, e testutil.Edit, _ *testutil.Telegram) {
			if !strings.HasPrefix(e.ParsedText, "✅ RESOLVED: CPUHigh") || e.ParseMode != "HTML" || e.ReplyMarkup != nil {
				t.Errorf("caption %q (parse_mode %q, keyboard %+v), want the resolved HTML message without buttons", e.ParsedText, e.ParseMode, e.ReplyMarkup)
			}
		},
	}, {
		name:     "photo, resolved text too long for a caption: the plain fallback",
		firing:   withImage(alert.StatusFiring, testImage, ""),
		resolved: withImage(alert.StatusResolved, testImage, long),
		method:   "editMessageCaption",
		check: func(t *testing.T, e testutil.Edit, _ *testutil.Telegram) {
			if !strings.HasPrefix(e.ParsedText, "RESOLVED: CPUHigh") || e.ParseMode != "" || utf8.RuneCountInString(e.ParsedText) > render.MaxCaptionLength {
				t.Errorf("caption %q (parse_mode %q), want the plain-text fallback", e.ParsedText, e.ParseMode)
			}
		},
	}, {
		name:     "reference says text, message is a photo: corrected",
		firing:   withImage(alert.StatusFiring, testImage, ""),
		resolved: withImage(alert.StatusResolved, testImage, ""),
		wrongRef: true,
		method:   "editMessageCaption",
		check: func(t *testing.T, _ testutil.Edit, fake *testutil.Telegram) {
			if c := fake.Calls("editMessageText"); len(c) != 1 || c[0].Status != 400 {
				t.Errorf("editMessageText calls %+v, want one refused", c)
			}
		},
	}, {
		name:     "text with image preview: editMessageText keeps a preview",
		firing:   withImage(alert.StatusFiring, testImage, long),
		resolved: withImage(alert.StatusResolved, testImage, long),
		method:   "editMessageText",
		check: func(t *testing.T, e testutil.Edit, fake *testutil.Telegram) {
			if lp := previewOf(t, fake.Calls("editMessageText")[0]); lp.IsDisabled || lp.URL != testImage {
				t.Errorf("link_preview_options %+v, want the image", lp)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, st, fake, _ := newTestDispatcher(t, testOpts{config: func(c *Config) { c.Buttons = &recordingButtons{} }})
			enqueue(t, d, tt.firing)
			round(t, d)
			if msgs := fake.MessagesIn(chatA); len(msgs) != 1 || msgs[0].MessageID != 1 {
				t.Fatalf("firing: chat A got %+v, want message 1", msgs)
			}
			if tt.wrongRef {
				err := st.PutMessageRef(t.Context(), store.MessageRef{ChatID: chatA, Route: testRoute, GroupKey: tt.firing.GroupKey,
					MessageID: 1, Status: string(alert.StatusFiring)})
				if err != nil {
					t.Fatal(err)
				}
			}
			enqueue(t, d, tt.resolved)
			round(t, d)

			var edits []testutil.Edit
			for _, e := range fake.Edits() {
				if e.Method != "editMessageReplyMarkup" {
					edits = append(edits, e)
				}
			}
			if len(edits) != 1 || edits[0].Method != tt.method || edits[0].MessageID != 1 {
				t.Fatalf("edits = %+v, want one %s of message 1", edits, tt.method)
			}
			tt.check(t, edits[0], fake)
			msgs := fake.MessagesIn(chatA)
			if len(msgs) != 2 || msgs[1].Method != "sendMessage" || msgs[1].ReplyTo != 1 {
				t.Errorf("messages %+v, want the original and a text reply to it", msgs)
			}
			ref, _, err := st.GetMessageRef(t.Context(), chatA, 0, testRoute, tt.firing.GroupKey)
			if err != nil || ref.Photo != (tt.method == "editMessageCaption") || ref.Status != string(alert.StatusResolved) {
				t.Errorf("message ref = %+v, %v; want resolved, photo %v", ref, err, tt.method == "editMessageCaption")
			}
			wantDelivered(t, resolveResult{counts: counts(t, st)}, 2)
		})
	}
}
