package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Open opens (creating if needed) the store that dsn names and brings its
// schema up to date:
//
//	sqlite://PATH            an SQLite file; a relative PATH is taken as given
//	postgres://… postgresql://…   a PostgreSQL URL (any pgx connection parameter)
//
// Errors and logs never contain a PostgreSQL password. A nil logger logs
// nothing.
func Open(ctx context.Context, dsn string, logger *slog.Logger) (Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "store")
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		return nil, errors.New("store: storage has no scheme: want sqlite://PATH or postgres://…")
	}
	switch strings.ToLower(scheme) {
	case "sqlite":
		return openSQLite(ctx, rest, logger)
	case "postgres", "postgresql":
		return openPostgres(ctx, dsn, logger)
	default:
		return nil, fmt.Errorf("store: unsupported storage scheme %q: want sqlite:// or postgres://", scheme)
	}
}
