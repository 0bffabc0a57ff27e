package testutil

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// request is one decoded Bot API call. Like telegram-bot-api, the fake sees
// every parameter as a string: JSON strings as they are, other JSON values
// (numbers, objects, arrays) as their JSON text, form and query values as
// sent.
type request struct {
	ctx    context.Context
	method string
	params map[string]string
	files  map[string]string // multipart file field -> file name
}

type route struct {
	name   string
	handle func(*Telegram, *request) (any, *apiError)
}

// routes maps lower-cased method names (the Bot API is case-insensitive)
// to handlers.
var routes = map[string]route{}

func init() {
	for _, r := range []route{
		{"getMe", (*Telegram).getMe},
		{"sendMessage", (*Telegram).sendMessage},
		{"sendPhoto", (*Telegram).sendPhoto},
		{"editMessageText", (*Telegram).editMessageText},
		{"editMessageCaption", (*Telegram).editMessageCaption},
		{"editMessageReplyMarkup", (*Telegram).editMessageReplyMarkup},
		{"deleteMessage", (*Telegram).deleteMessage},
		{"answerCallbackQuery", (*Telegram).answerCallbackQuery},
		{"getUpdates", (*Telegram).getUpdates},
		{"setWebhook", (*Telegram).setWebhook},
		{"deleteWebhook", (*Telegram).deleteWebhook},
		{"getWebhookInfo", (*Telegram).getWebhookInfo},
		{"setMyCommands", (*Telegram).setMyCommands},
		{"getMyCommands", (*Telegram).getMyCommands},
		{"deleteMyCommands", (*Telegram).deleteMyCommands},
		{"getChatMember", (*Telegram).getChatMember},
		{"getChat", (*Telegram).getChat},
	} {
		routes[strings.ToLower(r.name)] = r
	}
}

const maxMultipartMemory = 32 << 20

// readRequest merges the query string and the body (JSON, urlencoded or
// multipart form) into string parameters.
func readRequest(r *http.Request, method string) (*request, *apiError) {
	req := &request{ctx: r.Context(), method: method, params: map[string]string{}, files: map[string]string{}}
	for k, v := range r.URL.Query() {
		req.params[k] = v[0]
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		return req, req.readJSON(r)
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return req, badRequest("can't parse request body")
		}
		req.addValues(r.PostForm)
	case "multipart/form-data":
		return req, req.readMultipart(r)
	}
	return req, nil
}

func (req *request) addValues(values map[string][]string) {
	for k, v := range values {
		if len(v) > 0 {
			req.params[k] = v[0]
		}
	}
}

func (req *request) readJSON(r *http.Request) *apiError {
	var body map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
		return badRequest("can't parse JSON encoded request")
	}
	for k, raw := range body {
		raw = bytes.TrimSpace(raw)
		var s string
		switch {
		case bytes.Equal(raw, []byte("null")):
		case json.Unmarshal(raw, &s) == nil:
			req.params[k] = s
		default:
			req.params[k] = string(raw)
		}
	}
	return nil
}

func (req *request) readMultipart(r *http.Request) *apiError {
	if err := r.ParseMultipartForm(maxMultipartMemory); err != nil {
		return badRequest("can't parse request body")
	}
	req.addValues(r.MultipartForm.Value)
	for k, fhs := range r.MultipartForm.File {
		if len(fhs) > 0 {
			req.files[k] = fhs[0].Filename
		}
	}
	return nil
}

func (req *request) str(key string) string { return req.params[key] }

// integer reads an optional integer parameter (0 when absent), refusing
// values that are not numbers like telegram-bot-api does.
func (req *request) integer(key string) (int64, *apiError) {
	s, ok := req.params[key]
	if !ok || s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, badRequest("field \"" + key + "\" must be a valid Number")
	}
	return n, nil
}

// boolean reads an optional Boolean parameter: "true" or "1".
func (req *request) boolean(key string) bool {
	v := strings.ToLower(req.params[key])
	return v == "true" || v == "1"
}

// object decodes an optional JSON-serialized parameter.
func (req *request) object(key string, v any) (bool, error) {
	s, ok := req.params[key]
	if !ok || s == "" {
		return false, nil
	}
	return true, json.Unmarshal([]byte(s), v)
}

// chatID reads chat_id: an integer, or @username of a public chat (the
// fake gives each username a stable channel id).
func (f *Telegram) chatID(req *request, key string) (int64, *apiError) {
	s := strings.TrimSpace(req.str(key))
	if s == "" {
		return 0, badRequest(key + " is empty")
	}
	if strings.HasPrefix(s, "@") {
		return f.usernameChat(s[1:]), nil
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id == 0 {
		return 0, badRequest("chat not found")
	}
	return id, nil
}
