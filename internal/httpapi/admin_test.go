package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/alertgram/alertgram/internal/httpapi"
)

const (
	linksPath  = "/api/v1/links"
	adminToken = "adm1n-T0ken"
)

// linkCreatorFunc is an httpapi.LinkCreator made of a function.
type linkCreatorFunc func(ctx context.Context, req httpapi.LinkRequest) (any, error)

var _ httpapi.LinkCreator = linkCreatorFunc(nil)

func (f linkCreatorFunc) CreateLink(ctx context.Context, req httpapi.LinkRequest) (any, error) {
	return f(ctx, req)
}

// createdLink is what the fake creator answers; the handler must pass it
// through as JSON.
var createdLink = map[string]any{
	"url": "https://t.me/alertgram_test_bot?startgroup=abc", "token": "abc", "route": "oncall",
	"group": true, "matchers": []any{`severity="critical"`}, "expires_at": "2026-03-15T09:26:53Z",
}

func TestCreateLinkEndpoint(t *testing.T) {
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	const valid = `{"route":"oncall","group":true,"ttl":"2h","match":["severity=critical"]}`
	tests := []struct {
		name       string
		token      string // Deps.AdminToken
		noCreator  bool   // Deps.Links nil
		method     string // default POST
		header     map[string]string
		body       string
		createErr  error
		wantCode   int
		wantError  string // substring of the JSON error
		wantCalled bool
	}{
		{name: "admin API off", header: bearer(""), body: valid, wantCode: 404, wantError: "admin API is off"},
		{name: "admin API off, token sent", header: bearer(adminToken), body: valid, wantCode: 404},
		{name: "no creator", noCreator: true, token: adminToken, header: bearer(adminToken), body: valid, wantCode: 404},
		{name: "missing bearer", token: adminToken, body: valid, wantCode: 401, wantError: "bearer token"},
		{name: "wrong bearer", token: adminToken, header: bearer("nope"), body: valid, wantCode: 401},
		{name: "bearer with a suffix", token: adminToken, header: bearer(adminToken + "x"), body: valid, wantCode: 401},
		{name: "token without the scheme", token: adminToken, header: map[string]string{"Authorization": adminToken},
			body: valid, wantCode: 401},
		{name: "basic auth", token: adminToken, header: map[string]string{"Authorization": "Basic " + adminToken},
			body: valid, wantCode: 401},
		{name: "unknown JSON field", token: adminToken, header: bearer(adminToken),
			body: `{"route":"oncall","matchers":["a=b"]}`, wantCode: 400, wantError: `unknown field "matchers"`},
		{name: "not JSON", token: adminToken, header: bearer(adminToken), body: "route=oncall", wantCode: 400, wantError: "invalid JSON"},
		{name: "empty body", token: adminToken, header: bearer(adminToken), wantCode: 400, wantError: "invalid JSON"},
		{name: "wrong type", token: adminToken, header: bearer(adminToken), body: `{"route":"oncall","group":"yes"}`,
			wantCode: 400, wantError: "invalid JSON"},
		{name: "unknown route", token: adminToken, header: bearer(adminToken), body: `{"route":"nope"}`,
			wantCode: 400, wantError: `route: "nope" is not configured`},
		{name: "no route", token: adminToken, header: bearer(adminToken), body: `{}`,
			wantCode: 400, wantError: `route: "" is not configured`},
		{name: "creator says the request is invalid", token: adminToken, header: bearer(adminToken), body: valid,
			createErr: httpapi.InvalidRequest{Err: errors.New(`ttl: "2h" is not a positive duration`)},
			wantCode:  400, wantError: `ttl: "2h"`, wantCalled: true},
		{name: "wrapped InvalidRequest", token: adminToken, header: bearer(adminToken), body: valid,
			createErr: fmt.Errorf("creating: %w", httpapi.InvalidRequest{Err: errors.New("match: bad matcher")}),
			wantCode:  400, wantError: "match: bad matcher", wantCalled: true},
		{name: "creator fails otherwise", token: adminToken, header: bearer(adminToken), body: valid,
			createErr: errors.New("the bot's username is not known yet"),
			wantCode:  503, wantError: "could not create the link", wantCalled: true},
		{name: "created", token: adminToken, header: bearer(adminToken), body: valid, wantCode: 201, wantCalled: true},
		{name: "GET", method: http.MethodGet, token: adminToken, header: bearer(adminToken), wantCode: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []httpapi.LinkRequest
			d := httpapi.Deps{
				Logger: discardLogger(), AdminToken: tt.token,
				Routes: func(name string) bool { return name == "oncall" },
			}
			if !tt.noCreator {
				d.Links = linkCreatorFunc(func(_ context.Context, req httpapi.LinkRequest) (any, error) {
					got = append(got, req)
					if tt.createErr != nil {
						return nil, tt.createErr
					}
					return createdLink, nil
				})
			}
			rec := serve(t, d, cmpOr(tt.method, http.MethodPost), linksPath, tt.header, tt.body)
			if rec.Code != tt.wantCode {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantCode, rec.Body)
			}
			if called := len(got) > 0; called != tt.wantCalled {
				t.Fatalf("creator called = %v, want %v", called, tt.wantCalled)
			}
			if tt.wantCalled {
				want := httpapi.LinkRequest{Route: "oncall", Group: true, TTL: "2h", Matchers: []string{"severity=critical"}}
				if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
					t.Errorf("creator got %+v, want %+v", got, want)
				}
			}
			if tt.wantCode == 401 && rec.Header().Get("WWW-Authenticate") != "Bearer" {
				t.Errorf("WWW-Authenticate = %q, want Bearer", rec.Header().Get("WWW-Authenticate"))
			}
			if tt.wantCode == 201 {
				var body map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || !reflect.DeepEqual(body, createdLink) {
					t.Errorf("body = %s (%v), want the creator's link %v", rec.Body, err, createdLink)
				}
				return
			}
			if e := errorOf(t, rec); !strings.Contains(e, tt.wantError) {
				t.Errorf("error = %q, want it to mention %q", e, tt.wantError)
			}
			if strings.Contains(rec.Body.String(), adminToken) {
				t.Error("answer echoes the admin token")
			}
		})
	}
}

func TestLinkRequestParsedTTL(t *testing.T) {
	tests := []struct {
		ttl     string
		want    time.Duration
		wantErr bool
	}{
		{ttl: "", want: 0},
		{ttl: "24h", want: 24 * time.Hour},
		{ttl: "90m", want: 90 * time.Minute},
		{ttl: "0s", wantErr: true},
		{ttl: "-1h", wantErr: true},
		{ttl: "1 day", wantErr: true},
		{ttl: "10", wantErr: true},
	}
	for _, tt := range tests {
		got, err := httpapi.LinkRequest{TTL: tt.ttl}.ParsedTTL()
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParsedTTL(%q) = %v, %v; want %v, error %v", tt.ttl, got, err, tt.want, tt.wantErr)
		}
	}
}

// The body is decoded with DisallowUnknownFields, but only its first JSON
// value is read: a second object, with any fields, or trailing garbage
// passes, and the link is created.
func TestCreateLinkEndpointRejectsTrailingData(t *testing.T) {
	for _, body := range []string{`{"route":"oncall"}{"matchers":["a=b"]}`, `{"route":"oncall"} trailing`} {
		called := false
		d := httpapi.Deps{
			Logger: discardLogger(), AdminToken: adminToken,
			Routes: func(name string) bool { return name == "oncall" },
			Links: linkCreatorFunc(func(context.Context, httpapi.LinkRequest) (any, error) {
				called = true
				return createdLink, nil
			}),
		}
		rec := serve(t, d, http.MethodPost, linksPath, map[string]string{"Authorization": "Bearer " + adminToken}, body)
		if rec.Code != 400 || called {
			t.Errorf("body %s: status %d, creator called %v; want 400 and no link", body, rec.Code, called)
		}
	}
}
