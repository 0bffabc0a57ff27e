package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

func openPostgres(ctx context.Context, dsn string, logger *slog.Logger) (*sqlStore, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		// url.Error quotes the whole URL, password included.
		return nil, errors.New("store: storage is not a valid postgres URL")
	}
	secret := postgresPassword(u)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, redact(fmt.Errorf("store: parse postgres url: %w", err), secret)
	}
	where := fmt.Sprintf("%s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
	db := stdlib.OpenDB(*cfg)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, redact(fmt.Errorf("store: connect to postgres %s: %w", where, err), secret)
	}
	if err := migrate(ctx, db, postgresDialect, logger); err != nil {
		db.Close()
		return nil, redact(err, secret)
	}
	s, err := newSQLStore(ctx, db, db, postgresDialect, logger)
	if err != nil {
		db.Close()
		return nil, redact(err, secret)
	}
	logger.Info("store opened", "driver", "postgres", "server", where, "user", cfg.User)
	return s, nil
}

// postgresPassword finds the password in a postgres URL, in its user info or
// its password parameter; "" if there is none.
func postgresPassword(u *url.URL) string {
	if pw, ok := u.User.Password(); ok && pw != "" {
		return pw
	}
	return u.Query().Get("password")
}

// redactedError is an error whose text had a secret removed. It keeps the
// chain for errors.Is/As (say, context.DeadlineExceeded); only its own text
// is safe to print.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact removes secret, raw or escaped, from err's text. pgx redacts
// passwords in its own errors on a best-effort basis; this makes sure.
func redact(err error, secret string) error {
	if secret == "" {
		return err
	}
	msg := err.Error()
	for _, s := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret)} {
		msg = strings.ReplaceAll(msg, s, "xxxxx")
	}
	return &redactedError{msg: msg, err: err}
}
