package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

const actionMessageColumns = `id, route, source, chat_id, thread_id, message_id, group_key, silence_labels,
	text, parse_mode, photo, image_url, state, silence_id, actor, state_until, created_at, updated_at`

func (s *sqlStore) SaveActionMessage(ctx context.Context, m ActionMessage, buttons []Callback) (int64, error) {
	if m.ChatID == 0 {
		return 0, errors.New("store: save action message: no chat id")
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = time.Now()
	}
	if m.UpdatedAt.IsZero() {
		m.UpdatedAt = m.CreatedAt
	}
	labels, err := json.Marshal(orEmpty(m.SilenceLabels))
	if err != nil {
		return 0, fmt.Errorf("store: save action message: %w", err)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, wrapErr("save action message", err)
	}
	defer rollback(tx)
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO action_messages (route, source, chat_id, thread_id, message_id,
		group_key, silence_labels, text, parse_mode, photo, image_url, state, silence_id, actor, state_until,
		created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id`,
		m.Route, m.Source, m.ChatID, m.ThreadID, m.MessageID, m.GroupKey, string(labels), m.Text, m.ParseMode,
		m.Photo, m.ImageURL, m.State, m.SilenceID, m.Actor, s.d.tsOrNil(m.Until), s.d.ts(m.CreatedAt),
		s.d.ts(m.UpdatedAt)).Scan(&id)
	if err != nil {
		return 0, wrapErr("save action message", err)
	}
	for i := range buttons {
		buttons[i].ActionMessageID = id
	}
	if err := insertCallbacks(ctx, tx, s.d, buttons); err != nil {
		return 0, err
	}
	return id, wrapErr("save action message", tx.Commit())
}

func (s *sqlStore) MarkActionMessageSent(ctx context.Context, id int64, sent SentMessage) error {
	if sent.MessageID == 0 {
		return errors.New("store: mark action message sent: no message id")
	}
	n, err := execCount(ctx, s.write, `UPDATE action_messages SET message_id = $2, text = $3, parse_mode = $4,
		photo = $5, image_url = $6 WHERE id = $1`, id, sent.MessageID, sent.Text, sent.ParseMode, sent.Photo, sent.ImageURL)
	if err != nil {
		return wrapErr("mark action message sent", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

func (s *sqlStore) AddCallbacks(ctx context.Context, buttons []Callback) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return wrapErr("add callbacks", err)
	}
	defer rollback(tx)
	if err := insertCallbacks(ctx, tx, s.d, buttons); err != nil {
		return err
	}
	return wrapErr("add callbacks", tx.Commit())
}

func (s *sqlStore) ReplaceCallbacks(ctx context.Context, id int64, buttons []Callback) error {
	for _, b := range buttons {
		if b.ActionMessageID != id {
			return fmt.Errorf("store: replace callbacks: button %q belongs to message %d, not %d", b.ID, b.ActionMessageID, id)
		}
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return wrapErr("replace callbacks", err)
	}
	defer rollback(tx)
	if _, err := tx.ExecContext(ctx, `DELETE FROM callbacks WHERE action_message_id = $1`, id); err != nil {
		return wrapErr("replace callbacks", err)
	}
	if err := insertCallbacks(ctx, tx, s.d, buttons); err != nil {
		return err
	}
	return wrapErr("replace callbacks", tx.Commit())
}

func (s *sqlStore) RevokeCallbacks(ctx context.Context, ids ...string) error {
	for _, id := range ids {
		if _, err := s.write.ExecContext(ctx, `DELETE FROM callbacks WHERE id = $1`, id); err != nil {
			return wrapErr("revoke callbacks", err)
		}
	}
	return nil
}

func insertCallbacks(ctx context.Context, tx *sql.Tx, d dialect, buttons []Callback) error {
	for _, b := range buttons {
		if b.ID == "" || len(b.ID) > 64 {
			return fmt.Errorf("store: callback id %q must be 1 to 64 bytes", b.ID)
		}
		if b.CreatedAt.IsZero() {
			b.CreatedAt = time.Now()
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO callbacks (id, action_message_id, action, duration_ms, silence_id, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)`,
			b.ID, b.ActionMessageID, b.Action, b.Duration.Milliseconds(), b.SilenceID, d.ts(b.CreatedAt))
		if err != nil {
			return wrapErr("insert callback", err)
		}
	}
	return nil
}

func (s *sqlStore) LookupCallback(ctx context.Context, id string) (Callback, ActionMessage, error) {
	cb := Callback{ID: id}
	var ms int64
	row := s.read.QueryRowContext(ctx, `SELECT c.action_message_id, c.action, c.duration_ms, c.silence_id, c.created_at
		FROM callbacks c WHERE c.id = $1`, id)
	err := row.Scan(&cb.ActionMessageID, &cb.Action, &ms, &cb.SilenceID, scanTime(&cb.CreatedAt))
	if errors.Is(err, sql.ErrNoRows) {
		return Callback{}, ActionMessage{}, ErrNotFound
	}
	if err != nil {
		return Callback{}, ActionMessage{}, wrapErr("lookup callback", err)
	}
	cb.Duration = time.Duration(ms) * time.Millisecond
	msgs, err := s.queryActionMessages(ctx, `WHERE id = $1`, cb.ActionMessageID)
	if err != nil {
		return Callback{}, ActionMessage{}, err
	}
	if len(msgs) == 0 {
		return Callback{}, ActionMessage{}, ErrNotFound
	}
	return cb, msgs[0], nil
}

func (s *sqlStore) SetActionState(ctx context.Context, id int64, st ActionState) error {
	if st.At.IsZero() {
		st.At = time.Now()
	}
	res, err := s.write.ExecContext(ctx, `UPDATE action_messages SET state = $1, silence_id = $2, actor = $3,
		state_until = $4, updated_at = $5 WHERE id = $6`,
		st.State, st.SilenceID, st.Actor, s.d.tsOrNil(st.Until), s.d.ts(st.At), id)
	if err != nil {
		return wrapErr("set action state", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return ErrNotFound
	}
	return nil
}

func (s *sqlStore) ActionMessagesInState(ctx context.Context, state string) ([]ActionMessage, error) {
	return s.queryActionMessages(ctx, `WHERE state = $1 ORDER BY id`, state)
}

func (s *sqlStore) ActionMessagesForGroup(ctx context.Context, route, groupKey string) ([]ActionMessage, error) {
	return s.queryActionMessages(ctx, `WHERE route = $1 AND group_key = $2 AND message_id <> 0 ORDER BY id`, route, groupKey)
}

func (s *sqlStore) PruneActionMessages(ctx context.Context, before time.Time) (int, error) {
	return s.deleteBefore(ctx, "prune action messages", "action_messages", "updated_at", before)
}

func (s *sqlStore) queryActionMessages(ctx context.Context, where string, args ...any) ([]ActionMessage, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+actionMessageColumns+` FROM action_messages `+where, args...)
	if err != nil {
		return nil, wrapErr("query action messages", err)
	}
	defer rows.Close()
	var out []ActionMessage
	for rows.Next() {
		var m ActionMessage
		var labels string
		err := rows.Scan(&m.ID, &m.Route, &m.Source, &m.ChatID, &m.ThreadID, &m.MessageID, &m.GroupKey, &labels,
			&m.Text, &m.ParseMode, &m.Photo, &m.ImageURL, &m.State, &m.SilenceID, &m.Actor, scanTime(&m.Until), scanTime(&m.CreatedAt), scanTime(&m.UpdatedAt))
		if err != nil {
			return nil, wrapErr("scan action message", err)
		}
		if err := json.Unmarshal([]byte(labels), &m.SilenceLabels); err != nil {
			return nil, fmt.Errorf("store: action message %d: silence labels: %w", m.ID, err)
		}
		out = append(out, m)
	}
	return out, wrapErr("query action messages", rows.Err())
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
