package testutil

import (
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Bot command limits (TDLib BotCommand.cpp and the Telegram server).
const (
	maxCommands          = 100
	maxCommandLength     = 32
	maxCommandDescLength = 256
)

type commandScope struct {
	Type   string `json:"type"`
	ChatID any    `json:"chat_id"`
	UserID int64  `json:"user_id"`
}

// scopeKey names a command scope: "default", "all_private_chats",
// "chat:<chat_id>", "chat_member:<chat_id>:<user_id>", ...
func scopeKey(req *request) (string, *apiError) {
	s := commandScope{Type: "default"}
	if _, err := req.object("scope", &s); err != nil {
		return "", badRequest("can't parse BotCommandScope JSON object")
	}
	key := s.Type
	if s.ChatID != nil {
		chat, _ := json.Marshal(s.ChatID)
		key += ":" + strings.Trim(string(chat), `"`)
	}
	if s.UserID != 0 {
		key += ":" + jsonText(s.UserID)
	}
	lang := req.str("language_code")
	if lang != "" && (len(lang) != 2 || !isLowerLetter(lang[0]) || !isLowerLetter(lang[1])) {
		return "", badRequest("invalid language code specified")
	}
	return key + "|" + lang, nil
}

func isLowerLetter(c byte) bool { return 'a' <= c && c <= 'z' }

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Commands returns what setMyCommands stored for a scope key (see
// scopeKey; "default" for the default scope) and language code ("" for
// all languages).
func (f *Telegram) Commands(scope, languageCode string) []BotCommand {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.commands[scope+"|"+languageCode]
}

func (f *Telegram) setMyCommands(req *request) (any, *apiError) {
	key, aerr := scopeKey(req)
	if aerr != nil {
		return nil, aerr
	}
	var cmds []BotCommand
	if ok, err := req.object("commands", &cmds); !ok || err != nil {
		return nil, badRequest("can't parse commands JSON object")
	}
	if aerr := checkCommands(cmds); aerr != nil {
		return nil, aerr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commands[key] = cmds
	f.notify()
	return true, nil
}

// checkCommands applies TDLib's set_commands checks (which trim, drop a
// leading '/', and limit lengths), then the server's.
func checkCommands(cmds []BotCommand) *apiError {
	for i := range cmds {
		c := &cmds[i]
		c.Command = strings.TrimPrefix(tdTrim(c.Command), "/")
		c.Description = tdTrim(c.Description)
		switch {
		case c.Command == "":
			return badRequest("command must be non-empty")
		case utf8.RuneCountInString(c.Command) > maxCommandLength:
			return badRequest("command length must not exceed 32")
		case c.Description == "":
			return badRequest("command description must be non-empty")
		case utf8.RuneCountInString(c.Description) > maxCommandDescLength:
			return badRequest("command description length must not exceed 256")
		}
	}
	if len(cmds) > maxCommands {
		return badRequest("BOT_COMMANDS_TOO_MUCH")
	}
	for _, c := range cmds {
		if strings.Trim(c.Command, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
			return badRequest("BOT_COMMAND_INVALID")
		}
	}
	return nil
}

// tdTrim is td::trim.
func tdTrim(s string) string { return strings.Trim(s, " \t\r\n\x00\v") }

func (f *Telegram) getMyCommands(req *request) (any, *apiError) {
	key, aerr := scopeKey(req)
	if aerr != nil {
		return nil, aerr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	cmds := f.commands[key]
	if cmds == nil {
		cmds = []BotCommand{}
	}
	return cmds, nil
}

func (f *Telegram) deleteMyCommands(req *request) (any, *apiError) {
	key, aerr := scopeKey(req)
	if aerr != nil {
		return nil, aerr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.commands, key)
	f.notify()
	return true, nil
}

// botCommandEntities finds bot commands the way TDLib's match_bot_commands
// does ("/cmd" or "/cmd@bot" not glued to a word, '/', '<' or '>'), as
// Bot API MessageEntity objects with UTF-16 offsets.
func botCommandEntities(text string) []map[string]any {
	var out []map[string]any
	for i := 0; i < len(text); i++ {
		if text[i] != '/' {
			continue
		}
		end, ok := matchBotCommand(text, i)
		if !ok {
			continue
		}
		out = append(out, map[string]any{"type": "bot_command",
			"offset": utf16Len(text[:i]), "length": utf16Len(text[i:end])})
		i = end - 1
	}
	return out
}

// matchBotCommand reports whether a command starts at the '/' at i and
// where it ends.
func matchBotCommand(text string, i int) (int, bool) {
	if r, _ := utf8.DecodeLastRuneInString(text[:i]); i > 0 && commandNeighbour(r) {
		return 0, false
	}
	end := i + 1 + commandChars(text[i+1:])
	if n := end - i - 1; n < 1 || n > 64 {
		return 0, false
	}
	if end < len(text) && text[end] == '@' {
		n := commandChars(text[end+1:])
		if n < 3 || n > maxCommandLength {
			return 0, false
		}
		end += 1 + n
	}
	r, _ := utf8.DecodeRuneInString(text[end:])
	return end, end == len(text) || !commandNeighbour(r)
}

func commandChars(s string) int {
	n := 0
	for n < len(s) && (isLowerLetter(s[n]|0x20) || '0' <= s[n] && s[n] <= '9' || s[n] == '_') {
		n++
	}
	return n
}

func commandNeighbour(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || r == '_' || r == '/' || r == '<' || r == '>'
}

func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }
