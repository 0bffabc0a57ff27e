package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strconv"
	"strings"
)

// DedupeKey identifies a notification's content: the same route, group,
// status and alert set (fingerprints with their status, start and end).
// Alertmanager HA peers each send the same flush, and Alertmanager retries a
// webhook it thinks failed; those copies share a key. Alert order does not
// matter; annotations do not count (they are rendered from the same rule).
func (g *Group) DedupeKey() string {
	alerts := make([]string, 0, len(g.Alerts))
	for _, a := range g.Alerts {
		alerts = append(alerts, strings.Join([]string{
			a.Fingerprint, string(a.Status),
			strconv.FormatInt(a.StartsAt.UnixNano(), 10), strconv.FormatInt(a.EndsAt.UnixNano(), 10),
		}, "|"))
	}
	sort.Strings(alerts)
	h := sha256.New()
	for _, part := range append([]string{string(g.Source), g.Route, g.GroupKey, string(g.Status)}, alerts...) {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
