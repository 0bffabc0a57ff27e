package bot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/alertmanager"
)

// errNoSilencer: no Alertmanager (or Grafana) is configured for the alerts
// a press or command is about.
var errNoSilencer = errors.New("no Alertmanager is configured for these alerts")

// publicFailure is what chat members are told about a failed call to
// Alertmanager or Grafana: a short cause and a reference. The error itself
// names internal addresses (URLs, "dial tcp 10.1.2.3:9093") that members of
// a chat have no business seeing, so it goes to the log only, under the
// same reference, for the operator to find.
func publicFailure(l *slog.Logger, source, logMsg string, err error) string {
	ref := newFailureRef()
	l.Warn(logMsg, "err", err, "ref", ref)
	return fmt.Sprintf("%s; the bridge logged the details (ref %s).", failureCause(source, err), ref)
}

// failureCause says in a few words what went wrong, without addresses.
func failureCause(source string, err error) string {
	service := "Alertmanager"
	if source == string(alert.SourceGrafana) {
		service = "Grafana"
	}
	var apiErr *alertmanager.APIError
	switch {
	case errors.Is(err, errNoSilencer):
		return "No " + service + " is configured for these alerts"
	case errors.Is(err, context.DeadlineExceeded):
		return service + " did not answer in time"
	case errors.As(err, &apiErr) && (apiErr.Status == http.StatusUnauthorized || apiErr.Status == http.StatusForbidden):
		return fmt.Sprintf("%s refused alertgram's credentials (HTTP %d)", service, apiErr.Status)
	case errors.As(err, &apiErr) && apiErr.Status >= 500:
		return fmt.Sprintf("%s could not serve the request (HTTP %d)", service, apiErr.Status)
	case errors.As(err, &apiErr):
		return fmt.Sprintf("%s refused the request (HTTP %d)", service, apiErr.Status)
	}
	return service + " is unreachable"
}

// newFailureRef returns 8 random hex digits: enough to find one log line.
func newFailureRef() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}
