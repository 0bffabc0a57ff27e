package telegram

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// classes is what every error helper says about one error.
type classes struct {
	Parse, NotModified, Forbidden, TooMany, Permanent, Missing bool
	RetryAfter                                                 time.Duration
	HasRetryAfter                                              bool
	MigrateTo                                                  int64
	HasMigrate                                                 bool
}

func classify(err error) classes {
	k := classes{
		Parse: IsParseError(err), NotModified: IsNotModified(err), Forbidden: IsForbidden(err),
		TooMany: IsTooManyRequests(err), Permanent: IsPermanent(err), Missing: IsMessageMissing(err),
	}
	k.RetryAfter, k.HasRetryAfter = RetryAfter(err)
	k.MigrateTo, k.HasMigrate = MigrateTo(err)
	return k
}

func TestAPIErrors(t *testing.T) {
	tests := []struct {
		name  string
		reply reply
		want  APIError // Method is always sendMessage
		class classes
	}{{
		name:  "parse error",
		reply: failReply(400, `Bad Request: can't parse entities: Character '-' is reserved and must be escaped with the preceding '\\'`, ""),
		want:  APIError{Code: 400, Description: `Bad Request: can't parse entities: Character '-' is reserved and must be escaped with the preceding '\'`},
		class: classes{Parse: true, Permanent: true},
	}, {
		name:  "not modified",
		reply: failReply(400, "Bad Request: message is not modified: specified new message content and reply markup are exactly the same", ""),
		want:  APIError{Code: 400, Description: "Bad Request: message is not modified: specified new message content and reply markup are exactly the same"},
		class: classes{NotModified: true, Permanent: true},
	}, {
		name:  "blocked",
		reply: failReply(403, "Forbidden: bot was blocked by the user", ""),
		want:  APIError{Code: 403, Description: "Forbidden: bot was blocked by the user"},
		class: classes{Forbidden: true, Permanent: true},
	}, {
		name:  "too many requests with retry_after",
		reply: failReply(429, "Too Many Requests: retry after 7", `{"retry_after":7}`),
		want:  APIError{Code: 429, Description: "Too Many Requests: retry after 7", RetryAfter: 7 * time.Second},
		class: classes{TooMany: true, RetryAfter: 7 * time.Second, HasRetryAfter: true},
	}, {
		name: "too many requests with header only",
		reply: reply{status: 429, header: http.Header{"Retry-After": {"3"}},
			body: `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3"}`},
		want:  APIError{Code: 429, Description: "Too Many Requests: retry after 3", RetryAfter: 3 * time.Second},
		class: classes{TooMany: true, RetryAfter: 3 * time.Second, HasRetryAfter: true},
	}, {
		name:  "migrated group",
		reply: failReply(400, "Bad Request: group chat was upgraded to a supergroup chat", `{"migrate_to_chat_id":-1001234567890123}`),
		want:  APIError{Code: 400, Description: "Bad Request: group chat was upgraded to a supergroup chat", MigrateToChatID: bigChat},
		class: classes{Permanent: true, MigrateTo: bigChat, HasMigrate: true},
	}, {
		name:  "message to edit not found",
		reply: failReply(400, "Bad Request: message to edit not found", ""),
		want:  APIError{Code: 400, Description: "Bad Request: message to edit not found"},
		class: classes{Missing: true, Permanent: true},
	}, {
		name:  "message to be replied not found",
		reply: failReply(400, "Bad Request: message to be replied not found", ""),
		want:  APIError{Code: 400, Description: "Bad Request: message to be replied not found"},
		class: classes{Missing: true, Permanent: true},
	}, {
		name:  "conflict",
		reply: failReply(409, "Conflict: terminated by other getUpdates request", ""),
		want:  APIError{Code: 409, Description: "Conflict: terminated by other getUpdates request"},
		class: classes{Permanent: true},
	}, {
		name:  "server error envelope",
		reply: failReply(500, "Internal Server Error", ""),
		want:  APIError{Code: 500, Description: "Internal Server Error"},
	}, {
		name:  "gateway error without envelope",
		reply: reply{status: 502, body: "<html>bad gateway</html>"},
		want:  APIError{Code: 502, Description: "Bad Gateway"},
	}, {
		name:  "ok=false over HTTP 200 trusts error_code",
		reply: reply{status: 200, body: `{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`},
		want:  APIError{Code: 400, Description: "Bad Request: chat not found"},
		class: classes{Permanent: true},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestClient(t, newFakeAPI(t, tc.reply), WithRetry(0, 0, 0))
			_, err := c.SendMessage(t.Context(), SendMessageParams{ChatID: 1, Text: "x"})
			apiErr, ok := errors.AsType[*APIError](err)
			if !ok {
				t.Fatalf("err = %v (%T), want *APIError", err, err)
			}
			tc.want.Method = "sendMessage"
			if *apiErr != tc.want {
				t.Errorf("APIError = %+v\nwant %+v", *apiErr, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "sendMessage: ") {
				t.Errorf("err = %q, want sendMessage: prefix", err)
			}
			if got := classify(err); got != tc.class {
				t.Errorf("helpers = %+v\nwant %+v", got, tc.class)
			}
		})
	}
}

func TestHelpersOnOtherErrors(t *testing.T) {
	wrapped := fmt.Errorf("dispatch: %w", &APIError{Method: "sendMessage", Code: 403, Description: "Forbidden: x"})
	tests := []struct {
		name string
		err  error
		want classes
	}{
		{"nil", nil, classes{}},
		{"plain", errors.New("can't parse entities; message is not modified"), classes{}},
		{"wrapped APIError", wrapped, classes{Forbidden: true, Permanent: true}},
	}
	for _, tc := range tests {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("%s: helpers = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
