package config

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ParseChatRef parses "chat_id" or "chat_id:thread_id", e.g.
// "-1001234567890" or "-1001234567890:42". It checks syntax only;
// Validate checks the values.
func ParseChatRef(s string) (ChatRef, error) {
	idText, threadText, hasThread := strings.Cut(s, ":")
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil {
		return ChatRef{}, fmt.Errorf("invalid chat %q: chat id %q is not an integer (want -1001234567890 or \"-1001234567890:42\")", s, idText)
	}
	ref := ChatRef{ChatID: id}
	if !hasThread {
		return ref, nil
	}
	if ref.ThreadID, err = strconv.ParseInt(threadText, 10, 64); err != nil {
		return ChatRef{}, fmt.Errorf("invalid chat %q: thread id %q is not an integer (want \"chat_id:thread_id\")", s, threadText)
	}
	return ref, nil
}

// String gives "chat_id" or, with a forum topic, "chat_id:thread_id".
func (c ChatRef) String() string {
	if c.ThreadID == 0 {
		return strconv.FormatInt(c.ChatID, 10)
	}
	return strconv.FormatInt(c.ChatID, 10) + ":" + strconv.FormatInt(c.ThreadID, 10)
}

// UnmarshalYAML accepts an integer chat id or a "chat_id[:thread_id]" string.
func (c *ChatRef) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("a chat must be a chat id like -1001234567890 or a string \"chat_id:thread_id\", not %s", describeKind(n))
	}
	switch n.ShortTag() {
	case "!!int":
		var id int64
		if err := n.Decode(&id); err != nil {
			return fmt.Errorf("chat id %s does not fit in int64", n.Value)
		}
		*c = ChatRef{ChatID: id}
		return nil
	case "!!str":
		ref, err := ParseChatRef(n.Value)
		if err != nil {
			return err
		}
		*c = ref
		return nil
	default:
		return fmt.Errorf("invalid chat %q: want an integer chat id like -1001234567890 or a string \"chat_id:thread_id\"", n.Value)
	}
}

// MarshalYAML gives an integer, or a "chat_id:thread_id" string when the
// chat has a forum topic.
func (c ChatRef) MarshalYAML() (any, error) {
	if c.ThreadID == 0 {
		return c.ChatID, nil
	}
	return c.String(), nil
}
