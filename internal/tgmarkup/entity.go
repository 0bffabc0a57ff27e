package tgmarkup

import (
	"sort"
	"strconv"
)

// kind mirrors MessageEntity::Type in TDLib; the order matters because
// TDLib builds type masks from it.
type kind int

const (
	kindMention kind = iota
	kindHashtag
	kindBotCommand
	kindURL
	kindEmailAddress
	kindBold
	kindItalic
	kindCode
	kindPre
	kindPreCode
	kindTextURL
	kindMentionName
	kindCashtag
	kindPhoneNumber
	kindUnderline
	kindStrikethrough
	kindBlockQuote
	kindBankCardNumber
	kindMediaTimestamp
	kindSpoiler
	kindCustomEmoji
	kindExpandableBlockQuote
	// kindDateTime is newer than the TDLib revision this package ports; it
	// is modelled from the Bot API documentation of tg-time.
	kindDateTime
)

// kindInfo holds TDLib's name (used in "Can't find end of X entity"), its
// sort priority (MessageEntity::get_type_priority) and the Bot API type.
var kindInfo = map[kind]struct {
	name     string
	priority int
	api      string
}{
	kindMention:              {"Mention", 50, "mention"},
	kindHashtag:              {"Hashtag", 50, "hashtag"},
	kindBotCommand:           {"BotCommand", 50, "bot_command"},
	kindURL:                  {"Url", 50, "url"},
	kindEmailAddress:         {"EmailAddress", 50, "email"},
	kindBold:                 {"Bold", 90, "bold"},
	kindItalic:               {"Italic", 91, "italic"},
	kindCode:                 {"Code", 20, "code"},
	kindPre:                  {"Pre", 11, "pre"},
	kindPreCode:              {"PreCode", 10, "pre"},
	kindTextURL:              {"TextUrl", 49, "text_link"},
	kindMentionName:          {"MentionName", 49, "text_mention"},
	kindCashtag:              {"Cashtag", 50, "cashtag"},
	kindPhoneNumber:          {"PhoneNumber", 50, "phone_number"},
	kindUnderline:            {"Underline", 92, "underline"},
	kindStrikethrough:        {"Strikethrough", 93, "strikethrough"},
	kindBlockQuote:           {"BlockQuote", 0, "blockquote"},
	kindBankCardNumber:       {"BankCardNumber", 50, "bank_card_number"},
	kindMediaTimestamp:       {"MediaTimestamp", 50, "media_timestamp"},
	kindSpoiler:              {"Spoiler", 94, "spoiler"},
	kindCustomEmoji:          {"CustomEmoji", 99, "custom_emoji"},
	kindExpandableBlockQuote: {"ExpandableBlockQuote", 0, "expandable_blockquote"},
	kindDateTime:             {"DateTime", 99, "date_time"},
}

func (k kind) String() string { return kindInfo[k].name }

func (k kind) mask() int { return 1 << int(k) }

var (
	splittableMask = kindBold.mask() | kindItalic.mask() | kindUnderline.mask() |
		kindStrikethrough.mask() | kindSpoiler.mask()
	blockquoteMask = kindBlockQuote.mask() | kindExpandableBlockQuote.mask()
	continuousMask = kindMention.mask() | kindHashtag.mask() | kindBotCommand.mask() | kindURL.mask() |
		kindEmailAddress.mask() | kindTextURL.mask() | kindMentionName.mask() | kindCashtag.mask() |
		kindPhoneNumber.mask() | kindBankCardNumber.mask() | kindMediaTimestamp.mask() |
		kindCustomEmoji.mask() | kindDateTime.mask()
	preMask = kindPre.mask() | kindCode.mask() | kindPreCode.mask()
)

func (k kind) splittable() bool { return k.mask()&splittableMask != 0 }
func (k kind) blockquote() bool { return k.mask()&blockquoteMask != 0 }
func (k kind) continuous() bool { return k.mask()&continuousMask != 0 }
func (k kind) pre() bool        { return k.mask()&preMask != 0 }

// splittableIndex is get_splittable_entity_type_index.
func (k kind) splittableIndex() int {
	switch k {
	case kindBold:
		return 0
	case kindItalic:
		return 1
	case kindUnderline:
		return 2
	case kindStrikethrough:
		return 3
	}
	return 4 // Spoiler
}

// entity is TDLib's MessageEntity: offsets are UTF-16 code units.
type entity struct {
	kind     kind
	offset   int
	length   int
	arg      string // URL of TextUrl, language of PreCode
	userID   int64
	emojiID  int64
	unixTime int64
	format   string
}

func (e entity) end() int { return e.offset + e.length }

// entityLess is MessageEntity::operator<: by offset, longer first, then by
// type priority.
func entityLess(a, b entity) bool {
	if a.offset != b.offset {
		return a.offset < b.offset
	}
	if a.length != b.length {
		return a.length > b.length
	}
	return kindInfo[a.kind].priority < kindInfo[b.kind].priority
}

// sortEntities is sort_entities.
func sortEntities(es []entity) {
	sort.SliceStable(es, func(i, j int) bool { return entityLess(es[i], es[j]) })
}

// removeEmptyEntities is remove_empty_entities.
func removeEmptyEntities(es []entity) []entity {
	kept := es[:0]
	for _, e := range es {
		if e.length <= 0 || e.kind == kindTextURL && e.arg == "" ||
			e.kind == kindMentionName && e.userID == 0 || e.kind == kindCustomEmoji && e.emojiID == 0 {
			continue
		}
		kept = append(kept, e)
	}
	return kept
}

func publicEntities(es []entity) []Entity {
	if len(es) == 0 {
		return nil
	}
	out := make([]Entity, 0, len(es))
	for _, e := range es {
		out = append(out, e.public())
	}
	return out
}

func (e entity) public() Entity {
	p := Entity{Type: kindInfo[e.kind].api, Offset: e.offset, Length: e.length}
	switch e.kind {
	case kindTextURL:
		p.URL = e.arg
	case kindPreCode:
		p.Language = e.arg
	case kindMentionName:
		p.UserID = e.userID
	case kindCustomEmoji:
		p.CustomEmojiID = strconv.FormatInt(e.emojiID, 10)
	case kindDateTime:
		p.UnixTime, p.DateTimeFormat = e.unixTime, e.format
	}
	return p
}
