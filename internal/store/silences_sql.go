package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

const silenceColumns = `source, id, route, chat_id, kind, created_by, ends_at, created_at`

func (s *sqlStore) RecordSilence(ctx context.Context, r SilenceRecord) error {
	if r.Source == "" || r.ID == "" || r.Route == "" {
		return errors.New("store: record silence: source, id and route are required")
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = time.Now()
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO silences (`+silenceColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (source, id) DO UPDATE SET route = excluded.route, chat_id = excluded.chat_id,
			kind = excluded.kind, created_by = excluded.created_by, ends_at = excluded.ends_at`,
		r.Source, r.ID, r.Route, r.ChatID, r.Kind, r.CreatedBy, s.d.ts(r.EndsAt), s.d.ts(r.CreatedAt))
	return wrapErr("record silence", err)
}

func (s *sqlStore) SilenceRecord(ctx context.Context, source, id string) (SilenceRecord, error) {
	out, err := s.querySilences(ctx, `WHERE source = $1 AND id = $2`, source, id)
	if err != nil {
		return SilenceRecord{}, err
	}
	if len(out) == 0 {
		return SilenceRecord{}, ErrNotFound
	}
	return out[0], nil
}

func (s *sqlStore) RouteSilences(ctx context.Context, source, route string, now time.Time) ([]SilenceRecord, error) {
	return s.querySilences(ctx, `WHERE source = $1 AND route = $2 AND ends_at > $3 ORDER BY ends_at, id`,
		source, route, s.d.ts(now))
}

func (s *sqlStore) PruneSilences(ctx context.Context, before time.Time) (int, error) {
	return s.deleteBefore(ctx, "prune silences", "silences", "ends_at", before)
}

func (s *sqlStore) querySilences(ctx context.Context, where string, args ...any) ([]SilenceRecord, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+silenceColumns+` FROM silences `+where, args...)
	if err != nil {
		return nil, wrapErr("query silences", err)
	}
	defer rows.Close()
	var out []SilenceRecord
	for rows.Next() {
		var r SilenceRecord
		err := rows.Scan(&r.Source, &r.ID, &r.Route, &r.ChatID, &r.Kind, &r.CreatedBy, scanTime(&r.EndsAt), scanTime(&r.CreatedAt))
		if err != nil {
			return nil, fmt.Errorf("store: scan silence: %w", err)
		}
		out = append(out, r)
	}
	return out, wrapErr("query silences", rows.Err())
}
