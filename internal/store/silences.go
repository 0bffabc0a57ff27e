package store

import (
	"context"
	"time"
)

// SilenceRecord is a silence that alertgram made in Alertmanager (or in
// Grafana's Alertmanager API) from a button: which route it belongs to and
// who made it where. /silences lists, and Unsilence acts on, these records
// only; a silence's comment is free text anyone can type, so it proves
// nothing.
type SilenceRecord struct {
	Source    string // alertmanager | grafana: the API that holds the silence
	ID        string // the silence's id in that API
	Route     string // the route whose message the button was on
	ChatID    int64  // where it was pressed
	Kind      string // ActionStateSilenced or ActionStateAcked
	CreatedBy string // the presser, as shown in the message
	EndsAt    time.Time
	CreatedAt time.Time
}

// Silences records the silences alertgram made.
type Silences interface {
	// RecordSilence stores r, replacing the record with the same source
	// and id (an ack extended under the same id moves its end).
	RecordSilence(ctx context.Context, r SilenceRecord) error
	// SilenceRecord returns the record of a silence, or ErrNotFound.
	SilenceRecord(ctx context.Context, source, id string) (SilenceRecord, error)
	// RouteSilences returns the records of route's silences (of source)
	// that end after now, soonest to end first.
	RouteSilences(ctx context.Context, source, route string, now time.Time) ([]SilenceRecord, error)
	// PruneSilences deletes records of silences that ended before before.
	PruneSilences(ctx context.Context, before time.Time) (int, error)
}
