package render

import (
	"fmt"
	"sort"
	"strings"
	"text/template"

	"github.com/alertgram/alertgram/internal/alert"
)

// DigestData is what the digest template sees: several alert groups that
// were waiting for the same chat, merged into one message.
type DigestData struct {
	Groups         []*Data
	FiringGroups   int // among Groups
	ResolvedGroups int
	// Pending is how many more groups wait for the next message: a digest
	// never drops a group, it only defers it.
	Pending int
}

// Digest is a rendered digest message.
type Digest struct {
	Message
	// Included are the indexes (into the groups passed to RenderDigest) of
	// the groups this message shows, in the order shown.
	Included []int
}

// digestValueLimit keeps each group's line short in a digest.
const digestValueLimit = 200

// RenderDigest renders as many of groups as fit into one message with
// template "<name>.digest" (or "digest"), most urgent first: firing before
// resolved, then by severity, then in the order given (oldest first).
func (r *Renderer) RenderDigest(groups []*alert.Group, name string, mode Mode) (Digest, error) {
	t, ok := r.sets[mode]
	if !ok {
		return Digest{}, fmt.Errorf("unknown parse mode %q", string(mode))
	}
	entry := name + ".digest"
	if t.Lookup(entry) == nil {
		entry = "digest"
	}
	order := urgencyOrder(groups)
	views := make([]*Data, len(order))
	for i, idx := range order {
		views[i] = newData(groups[idx], digestValueLimit)
	}
	n, msg, err := r.fitDigest(t, entry, views, mode)
	if err != nil {
		return Digest{}, err
	}
	return Digest{Message: msg, Included: order[:n]}, nil
}

// fitDigest finds the largest prefix of views that fits, by binary search.
func (r *Renderer) fitDigest(t *template.Template, entry string, views []*Data, mode Mode) (int, Message, error) {
	lo, hi := 0, len(views)
	var best Message
	for lo < hi {
		mid := (lo + hi + 1) / 2
		msg, n, err := r.tryDigest(t, entry, views, mid, mode)
		if err != nil {
			return 0, Message{}, err
		}
		if n <= r.maxLength {
			lo, best = mid, msg
		} else {
			hi = mid - 1
		}
	}
	if lo == 0 {
		return 0, Message{}, fmt.Errorf("digest template %q: %w even for one group", entry, errTooLong)
	}
	return lo, best, nil
}

func (r *Renderer) tryDigest(t *template.Template, entry string, views []*Data, n int, mode Mode) (Message, int, error) {
	d := &DigestData{Groups: views[:n], Pending: len(views) - n}
	for _, g := range d.Groups {
		if g.Status == string(alert.StatusFiring) {
			d.FiringGroups++
		} else {
			d.ResolvedGroups++
		}
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, entry, d); err != nil {
		return Message{}, 0, fmt.Errorf("template %q: %w", entry, err)
	}
	length, err := measure(mode, b.String())
	if err != nil {
		return Message{}, 0, fmt.Errorf("template %q: %w", entry, err)
	}
	return Message{Text: b.String(), ParseMode: mode, Shown: n}, length, nil
}

// urgencyOrder returns the indexes of groups, most urgent first.
func urgencyOrder(groups []*alert.Group) []int {
	order := make([]int, len(groups))
	rank := make([]int, len(groups))
	for i, g := range groups {
		order[i] = i
		rank[i] = 10
		for _, a := range g.Alerts {
			rank[i] = min(rank[i], alert.SeverityRank(a.Labels))
		}
	}
	sort.SliceStable(order, func(a, b int) bool {
		ga, gb := groups[order[a]], groups[order[b]]
		if (ga.Status == alert.StatusFiring) != (gb.Status == alert.StatusFiring) {
			return ga.Status == alert.StatusFiring
		}
		return rank[order[a]] < rank[order[b]]
	})
	return order
}
