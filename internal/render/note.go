package render

import "strings"

// maxNoteLength bounds a state note, in code points. Messages are reduced
// to NoteRoom less than Telegram's limit, so a note always fits.
const maxNoteLength = 200

// NoteRoom is the room, in code points, that single messages leave for a
// state note added later ("Silenced by … until …").
const NoteRoom = maxNoteLength + 2

// WithNote returns text (a message already valid in mode) followed by a
// blank line and note, escaped for mode. ok is false when the result would
// be invalid or too long for Telegram; then text should stay as it is.
func WithNote(text string, mode Mode, note string) (string, bool) {
	d, err := dialectFor(mode)
	if err != nil {
		return text, false
	}
	note = TruncateRunes(maxNoteLength, strings.TrimSpace(note))
	out := strings.TrimRight(text, "\n") + "\n\n" + d.text(note)
	if n, err := measure(mode, out); err != nil || n > MaxTextLength {
		return text, false
	}
	return out, true
}
