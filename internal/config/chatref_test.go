package config

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestChatRefYAML(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		yaml    string
		want    ChatRef
		wantErr string
	}{
		{yaml: `-1001234567890`, want: ChatRef{ChatID: -1001234567890}},
		{yaml: `"-1001234567890"`, want: ChatRef{ChatID: -1001234567890}},
		{yaml: `"-1001234567890:42"`, want: ChatRef{ChatID: -1001234567890, ThreadID: 42}},
		{yaml: `-1001234567890:42`, want: ChatRef{ChatID: -1001234567890, ThreadID: 42}}, // plain, still a string in YAML 1.2
		{yaml: `12345`, want: ChatRef{ChatID: 12345}},
		{yaml: `0x10`, want: ChatRef{ChatID: 16}},                      // any YAML integer
		{yaml: `"-100:-4"`, want: ChatRef{ChatID: -100, ThreadID: -4}}, // syntax ok; Validate rejects it
		{yaml: `ops`, wantErr: `invalid chat "ops": chat id "ops" is not an integer`},
		{yaml: `"-100:"`, wantErr: `invalid chat "-100:": thread id "" is not an integer`},
		{yaml: `":5"`, wantErr: `invalid chat ":5": chat id "" is not an integer`},
		{yaml: `"-100:1:2"`, wantErr: `thread id "1:2" is not an integer`},
		{yaml: `" -100"`, wantErr: `chat id " -100" is not an integer`},
		{yaml: `-1.5`, wantErr: `invalid chat "-1.5": want an integer chat id`},
		{yaml: `true`, wantErr: `invalid chat "true"`},
		{yaml: `99999999999999999999`, wantErr: `invalid chat "99999999999999999999"`},
		{yaml: `[1]`, wantErr: `not a list`},
	} {
		var got ChatRef
		err := yaml.Unmarshal([]byte(c.yaml), &got)
		switch {
		case c.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: error %v, want %q", c.yaml, err, c.wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", c.yaml, err)
		case got != c.want:
			t.Errorf("%s: got %+v, want %+v", c.yaml, got, c.want)
		}
	}
}

func TestChatRefRoundTrip(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		ref      ChatRef
		str, yml string
	}{
		{ChatRef{ChatID: -1001234567890}, "-1001234567890", "-1001234567890\n"},
		{ChatRef{ChatID: -1001234567890, ThreadID: 42}, "-1001234567890:42", `"-1001234567890:42"` + "\n"},
		{ChatRef{ChatID: 7}, "7", "7\n"},
	} {
		if got := c.ref.String(); got != c.str {
			t.Errorf("String() = %q, want %q", got, c.str)
		}
		parsed, err := ParseChatRef(c.str)
		if err != nil || parsed != c.ref {
			t.Errorf("ParseChatRef(%q) = %+v, %v", c.str, parsed, err)
		}
		out, err := yaml.Marshal(c.ref)
		if err != nil || string(out) != c.yml {
			t.Errorf("yaml.Marshal(%+v) = %q, %v; want %q", c.ref, out, err, c.yml)
		}
		var back ChatRef
		if err := yaml.Unmarshal(out, &back); err != nil || back != c.ref {
			t.Errorf("round trip of %+v: %+v, %v", c.ref, back, err)
		}
	}
}
