package testutil

import (
	"encoding/json"
	"net"
	"net/url"
	"strings"
)

const maxCallbackDataBytes = 64

// buttonActions are the fields that make an inline button do something; a
// button with none of them is a text button, which inline keyboards refuse.
var buttonActions = []string{"url", "callback_data", "web_app", "login_url", "switch_inline_query",
	"switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text", "callback_game", "pay"}

// parseReplyMarkup decodes reply_markup. Structural errors are
// telegram-bot-api's and come back at once; a button the Telegram server
// refuses (BUTTON_DATA_INVALID, BUTTON_URL_INVALID) comes back as deferred,
// to be reported after TDLib's own checks. Keyboards other than inline
// ones are accepted and not recorded.
func parseReplyMarkup(req *request) (*InlineKeyboardMarkup, *apiError, *apiError) {
	var raw map[string]json.RawMessage
	if ok, err := req.object("reply_markup", &raw); !ok {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, badRequest("can't parse reply keyboard markup JSON object")
	}
	keyboard, ok := raw["inline_keyboard"]
	if !ok {
		return nil, nil, nil
	}
	var rows [][]map[string]json.RawMessage
	if err := json.Unmarshal(keyboard, &rows); err != nil {
		return nil, nil, badRequest(`field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays`)
	}
	return buildKeyboard(rows)
}

func buildKeyboard(rows [][]map[string]json.RawMessage) (*InlineKeyboardMarkup, *apiError, *apiError) {
	m := &InlineKeyboardMarkup{InlineKeyboard: make([][]InlineKeyboardButton, 0, len(rows))}
	var deferred *apiError
	for _, row := range rows {
		buttons := make([]InlineKeyboardButton, 0, len(row))
		for _, raw := range row {
			b, aerr := parseButton(raw)
			if aerr != nil {
				return nil, nil, aerr
			}
			if deferred == nil {
				deferred = serverButtonError(raw, b)
			}
			buttons = append(buttons, b)
		}
		m.InlineKeyboard = append(m.InlineKeyboard, buttons)
	}
	if countButtons(m) == 0 {
		return nil, nil, nil // an empty inline keyboard is no keyboard
	}
	return m, deferred, nil
}

func parseButton(raw map[string]json.RawMessage) (InlineKeyboardButton, *apiError) {
	var b InlineKeyboardButton
	text, ok := raw["text"]
	if !ok {
		return b, badRequest(`can't parse inline keyboard button: Can't find field "text"`)
	}
	if json.Unmarshal(text, &b.Text) != nil {
		return b, badRequest(`can't parse inline keyboard button: Field "text" must be of type String`)
	}
	if !hasAction(raw) {
		return b, badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
	}
	body, _ := json.Marshal(raw)
	if json.Unmarshal(body, &b) != nil {
		return b, badRequest("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
	}
	return b, nil
}

func hasAction(raw map[string]json.RawMessage) bool {
	for _, k := range buttonActions {
		if _, ok := raw[k]; ok {
			return true
		}
	}
	return false
}

// serverButtonError is what Telegram's server says about a button:
// callback_data must be 1-64 bytes, and a URL needs an http, https or tg
// scheme and, for http(s), a host that is not localhost or single-label.
func serverButtonError(raw map[string]json.RawMessage, b InlineKeyboardButton) *apiError {
	if _, ok := raw["callback_data"]; ok && (b.CallbackData == "" || len(b.CallbackData) > maxCallbackDataBytes) {
		return badRequest("BUTTON_DATA_INVALID")
	}
	if _, ok := raw["url"]; ok && !validButtonURL(b.URL) {
		return badRequest("BUTTON_URL_INVALID")
	}
	return nil
}

func validButtonURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "tg":
		return u.Host != "" || u.Opaque != ""
	case "http", "https":
		return publicHost(u.Hostname())
	}
	return false
}

// publicHost accepts IP literals and dotted names, not localhost or
// single-label names such as "prometheus".
func publicHost(host string) bool {
	if net.ParseIP(host) != nil {
		return true
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	return host != "" && host != "localhost" && !strings.HasSuffix(host, ".localhost") && strings.Contains(host, ".")
}

// sameMarkup compares keyboards the way "message is not modified" does.
func sameMarkup(a, b *InlineKeyboardMarkup) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func countButtons(m *InlineKeyboardMarkup) int {
	n := 0
	for _, row := range m.InlineKeyboard {
		n += len(row)
	}
	return n
}
