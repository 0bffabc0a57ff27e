package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/alertgram/alertgram/internal/testutil"
)

const validConfig = `
telegram:
  token: "${TEST_TOKEN}"
routes:
  - name: oncall
    parse_mode: %s
    template: %s
    chats: [-1001234567890]
`

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func testConfig(t *testing.T, parseMode, template string) string {
	t.Helper()
	t.Setenv("TEST_TOKEN", testutil.DefaultTelegramToken)
	return writeFile(t, "alertgram.yml", fmt.Sprintf(validConfig, parseMode, template))
}

func TestRun(t *testing.T) {
	payload, err := filepath.Abs("../../internal/render/testdata/group.json")
	if err != nil {
		t.Fatal(err)
	}
	grafana := func(name string) string { return filepath.Join("..", "..", "internal", "httpapi", "testdata", name) }
	golden := func(name string) string {
		b, err := os.ReadFile("../../internal/render/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b) + "\n"
	}
	tests := []struct {
		name       string
		args       func(t *testing.T) []string
		wantCode   int
		wantStdout string // exact when wantExact, else substring
		wantExact  bool
		wantStderr string
	}{
		{name: "no args", args: func(*testing.T) []string { return nil }, wantCode: 2, wantStderr: "Usage:"},
		{name: "unknown command", args: func(*testing.T) []string { return []string{"frobnicate"} }, wantCode: 2, wantStderr: `unknown command "frobnicate"`},
		{name: "version", args: func(*testing.T) []string { return []string{"version"} }, wantStdout: runtime.Version()},
		{name: "check-config ok", args: func(t *testing.T) []string { return []string{"check-config", testConfig(t, "HTML", "default")} }, wantStdout: "OK (1 routes)"},
		{name: "check-config bad parse mode", args: func(t *testing.T) []string { return []string{"check-config", testConfig(t, "Markdown", "default")} }, wantCode: 1, wantStderr: "routes[0].parse_mode"},
		{name: "check-config unknown template", args: func(t *testing.T) []string { return []string{"check-config", testConfig(t, "HTML", "nope")} }, wantCode: 1, wantStderr: `routes[0].template: "nope" is not defined`},
		{name: "check-config missing file", args: func(*testing.T) []string { return []string{"check-config", "/nonexistent.yml"} }, wantCode: 1, wantStderr: "nonexistent.yml"},
		{name: "serve without config", args: func(*testing.T) []string { return []string{"serve"} }, wantCode: 2, wantStderr: "--config FILE is required"},
		{name: "render html", args: func(t *testing.T) []string {
			return []string{"render", "--config", testConfig(t, "HTML", "default"), "--route", "oncall", payload}
		}, wantStdout: golden("group.html.golden"), wantExact: true},
		{name: "render markdown", args: func(t *testing.T) []string {
			return []string{"render", "--config", testConfig(t, "MarkdownV2", "default"), "--route", "oncall", payload}
		}, wantStdout: golden("group.md.golden"), wantExact: true},
		{name: "render grafana, source detected", args: func(t *testing.T) []string {
			return []string{"render", "--config", testConfig(t, "HTML", "default"), "--route", "oncall", grafana("grafana-firing.json")}
		}, wantStdout: golden("grafana-firing.html.golden"), wantExact: true},
		{name: "render grafana markdown, --source grafana", args: func(t *testing.T) []string {
			return []string{"render", "--config", testConfig(t, "MarkdownV2", "default"), "--route", "oncall", "--source", "grafana", grafana("grafana-firing.json")}
		}, wantStdout: golden("grafana-firing.md.golden"), wantExact: true},
		{name: "render grafana legacy, source detected", args: func(t *testing.T) []string {
			return []string{"render", "--config", testConfig(t, "HTML", "default"), "--route", "oncall", grafana("grafana-legacy-alerting.json")}
		}, wantStdout: "FIRING"},
		{name: "render grafana payload as alertmanager", args: func(t *testing.T) []string {
			return []string{"render", "--config", testConfig(t, "HTML", "default"), "--route", "oncall", "--source", "alertmanager", grafana("grafana-firing.json")}
		}, wantCode: 1, wantStderr: `version: got "1"`},
		{name: "render unknown source", args: func(t *testing.T) []string {
			return []string{"render", "--config", testConfig(t, "HTML", "default"), "--route", "oncall", "--source", "zabbix", payload}
		}, wantCode: 2, wantStderr: `--source must be alertmanager or grafana, not "zabbix"`},
		{name: "render payload of neither source", args: func(t *testing.T) []string {
			return []string{"render", "--config", testConfig(t, "HTML", "default"), "--route", "oncall", writeFile(t, "p.json", `{"status":"firing"}`)}
		}, wantCode: 1, wantStderr: "neither an Alertmanager nor a Grafana webhook payload"},
		{name: "render unknown route", args: func(t *testing.T) []string {
			return []string{"render", "--config", testConfig(t, "HTML", "default"), "--route", "nope", payload}
		}, wantCode: 1, wantStderr: `route "nope" is not configured`},
		{name: "render invalid payload", args: func(t *testing.T) []string {
			return []string{"render", "--config", testConfig(t, "HTML", "default"), "--route", "oncall", writeFile(t, "p.json", `{"version":"4","status":"firing","alerts":[]}`)}
		}, wantCode: 1, wantStderr: "alerts: empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args(t), &stdout, &stderr)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.wantCode, stderr.String())
			}
			if tc.wantExact && stdout.String() != tc.wantStdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout.String(), tc.wantStdout)
			}
			if !tc.wantExact && !strings.Contains(stdout.String(), tc.wantStdout) {
				t.Errorf("stdout %q lacks %q", stdout.String(), tc.wantStdout)
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.wantStderr)
			}
			if strings.Contains(stdout.String()+stderr.String(), testutil.DefaultTelegramToken) {
				t.Error("the bot token was printed")
			}
		})
	}
}
