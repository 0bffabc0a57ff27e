package e2e

import (
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alertgram/alertgram/internal/testutil"
)

const adminToken = "admin-token-0123456789abcdef"

// linkEnv is subEnv with the admin API on.
func newLinkEnv(t *testing.T) *subEnv {
	t.Helper()
	fake := testutil.NewTelegram(t)
	dir := t.TempDir()
	e := &subEnv{fake: fake, listen: fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))}
	e.cfg = writeConfig(t, dir, fmt.Sprintf(`
listen: %q
storage: "sqlite://%s"
telegram:
  token: "${TEST_BOT_TOKEN}"
  api_url: %q
admin:
  bearer_token: %q
routes:
  - name: oncall
`, e.listen, filepath.Join(dir, "alertgram.db"), fake.URL(), adminToken))
	return e
}

// A link is a credential until it is used: neither the CLI nor the admin
// API makes one that outlives links.max_ttl (30 days by default).
func TestLinkLifetimeIsCapped(t *testing.T) {
	e := newLinkEnv(t)
	cmd := exec.CommandContext(t.Context(), binary, "link", "--config", e.cfg, "--route", "oncall", "--ttl", "2562047h")
	cmd.Env = append(cmd.Environ(), "TEST_BOT_TOKEN="+e.fake.Token())
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "links.max_ttl") || !strings.Contains(string(out), "720h") {
		t.Errorf("link --ttl 2562047h: err %v, output %q; want a refusal naming links.max_ttl (720h)", err, out)
	}
	if strings.Contains(string(out), "t.me/") {
		t.Errorf("a link was printed: %q", out)
	}

	s := e.start(t)
	api := "http://" + e.listen + "/api/v1/links"
	code, body := post(t, api, adminToken, `{"route":"oncall","ttl":"2562047h"}`)
	if code != http.StatusBadRequest || !strings.Contains(body, "links.max_ttl") {
		t.Errorf("admin API with ttl 2562047h: %d %s; want 400 naming links.max_ttl", code, body)
	}
	if code, body := post(t, api, adminToken, `{"route":"oncall","ttl":"720h"}`); code != http.StatusCreated {
		t.Errorf("admin API with ttl 720h: %d %s; want 201", code, body)
	}
	s.stop(t)
}

// A group link (--group, ?startgroup=) subscribes a group, never a private
// chat, and a private link never a group; a refused link stays usable by
// the chat it was made for.
func TestLinkSubscribesOnlyItsKindOfChat(t *testing.T) {
	e := newSubEnv(t, "polling")
	s := e.start(t)
	_, groupTok := e.link(t, "--group")
	_, privateTok := e.link(t)

	e.fake.InjectMessage(privateChat, alice, "/start "+groupTok)
	e.waitReply(t, privateChat.ID, 1, "This link is for a group")
	e.fake.InjectMessage(groupChat, alice, "/start "+privateTok)
	e.waitReply(t, groupChat.ID, 1, "This link subscribes a private chat")

	e.fake.InjectMessage(groupChat, alice, "/start "+groupTok)
	e.waitReply(t, groupChat.ID, 2, "Subscribed")
	e.fake.InjectMessage(privateChat, alice, "/start "+privateTok)
	e.waitReply(t, privateChat.ID, 2, "Subscribed")
	waitMetric(t, s, `alertgram_subscriptions{route="oncall"} 2`)
	s.stop(t)
}
