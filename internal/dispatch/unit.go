package dispatch

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"slices"
	"time"
	"unique"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/store"
)

// item is one held delivery: what its claim's header says, compactly (a
// worker holds up to ChatBatch of them, a thousand workers at once), and,
// while its message is prepared, its decoded alert group.
type item struct {
	id, notificationID int64
	route, groupKey    string // interned: a notification to a thousand chats has one group key
	to                 store.Target
	attempts           int32
	size               int32        // bytes of the notification's payload
	due, accepted      int64        // Unix microseconds, the store's precision
	g                  *alert.Group // nil but while its message is prepared (and until a single group's is sent)
	status             alert.Status // g's status, kept when g is dropped
}

// newItem holds a claimed header.
func newItem(h store.DeliveryHeader) item {
	del := h.Delivery
	return item{
		id: del.ID, notificationID: del.NotificationID, route: intern(del.Route), groupKey: intern(del.GroupKey),
		to: del.Target, attempts: int32(del.Attempts), size: int32(min(h.PayloadSize, math.MaxInt32)),
		due: del.NextAttemptAt.UnixMicro(), accepted: del.AcceptedAt.UnixMicro(),
	}
}

// delivery is the store's view of it, for recording an outcome.
func (it item) delivery() store.Delivery {
	return store.Delivery{
		ID: it.id, NotificationID: it.notificationID, Route: it.route, GroupKey: it.groupKey, Target: it.to,
		Attempts: int(it.attempts), NextAttemptAt: time.UnixMicro(it.due).UTC(), AcceptedAt: time.UnixMicro(it.accepted).UTC(),
	}
}

func intern(s string) string { return unique.Make(s).Value() }

// strip drops the decoded groups of items, to be held again, and returns
// items.
func strip(items []item) []item {
	for i := range items {
		items[i].g = nil
	}
	return items
}

// unitShare: one unit reads at most 1/unitShare of the payload budget, so
// that several chats prepare messages at once.
const unitShare = 4

// prepare turns one unit (deliveries for one chat, topic and route) into
// one ready-to-send message: older states are superseded, unwanted
// resolved notifications dropped, and the rest rendered, as one group or
// as a digest. It returns nil when nothing is left to send, and the
// deliveries left for the next message: those a digest deferred, and those
// beyond what one unit may read of the payload budget. The job holds the
// budget it keeps (job.weight) until the caller releases it. An error is a
// failure to read the payloads, or ctx ending while waiting for the budget;
// everything is then returned as left.
func (d *Dispatcher) prepare(ctx context.Context, unit []item) (*job, []item, error) {
	unit = d.supersede(ctx, unit)
	unit, later := d.readable(unit)
	taken, err := d.budget.acquire(ctx, payloadBytes(unit))
	if err != nil {
		return nil, append(unit, later...), err
	}
	items, err := d.read(ctx, unit)
	if err != nil {
		d.budget.release(taken)
		return nil, append(unit, later...), err
	}
	items = d.dropUnwantedResolved(ctx, items)
	var (
		j    *job
		left []item
	)
	switch len(items) {
	case 0:
		d.budget.release(taken)
		return nil, later, nil
	case 1:
		j = d.prepareSingle(ctx, items[0])
	default:
		j, left = d.prepareDigest(ctx, items)
	}
	if j.kind != "digest" {
		j.weight = min(int64(j.items[0].size), taken) // it keeps its group until sent
	}
	d.budget.release(taken - j.weight)
	return j, slices.Concat(strip(left), later), nil
}

// readable splits a unit, oldest first, into what its message reads (at
// most a unitShare of the payload budget, at least one notification) and
// what waits for the next message.
func (d *Dispatcher) readable(unit []item) (now, later []item) {
	limit := d.budget.size / unitShare
	var sum int64
	for i, it := range unit {
		if sum += int64(it.size); i > 0 && sum > limit {
			return slices.Clip(unit[:i]), unit[i:]
		}
	}
	return unit, nil
}

func payloadBytes(items []item) int64 {
	var n int64
	for _, it := range items {
		n += int64(it.size)
	}
	return n
}

// read decodes the unit's alert groups, reading the payloads its headers
// left out in one query. A delivery whose payload is missing or cannot be
// decoded fails (neither can happen for what Enqueue wrote); an error is
// the store's, and nothing is decoded.
func (d *Dispatcher) read(ctx context.Context, unit []item) ([]item, error) {
	ids := make([]int64, len(unit))
	for i, it := range unit {
		ids[i] = it.notificationID
	}
	payloads, err := d.outbox.NotificationPayloads(ctx, ids)
	if err != nil {
		return nil, err
	}
	items := make([]item, 0, len(unit))
	for _, it := range unit {
		raw, ok := payloads[it.notificationID]
		if !ok {
			d.fail(ctx, d.logFor(it), []store.Delivery{it.delivery()}, "notification payload missing")
			continue
		}
		g := new(alert.Group)
		if err := json.Unmarshal(raw, g); err != nil {
			d.fail(ctx, d.logFor(it), []store.Delivery{it.delivery()}, "undecodable payload: "+err.Error())
			continue
		}
		it.g, it.status = g, alert.Status(intern(string(g.Status)))
		items = append(items, it)
	}
	return items, nil
}

// supersede keeps, per alert group, only the newest state: an older unsent
// notification of the same group is obsolete once a newer one exists.
func (d *Dispatcher) supersede(ctx context.Context, items []item) []item {
	newest := map[string]int{} // group key → index of its newest item
	for i, it := range items {
		if j, ok := newest[it.groupKey]; !ok || it.notificationID > items[j].notificationID {
			newest[it.groupKey] = i
		}
	}
	var keep []item
	var old []int64
	for i, it := range items {
		if newest[it.groupKey] == i {
			keep = append(keep, it)
		} else {
			old = append(old, it.id)
		}
	}
	d.endAsSuperseded(ctx, old, "replaced by a newer state of the same alert group")
	return keep
}

// dropUnwantedResolved ends resolved notifications for routes without
// send_resolved when no earlier message of the group is there to edit.
func (d *Dispatcher) dropUnwantedResolved(ctx context.Context, items []item) []item {
	var keep []item
	var drop []int64
	for _, it := range items {
		if it.g.Status != alert.StatusResolved || d.spec(it.route).SendResolved {
			keep = append(keep, it)
			continue
		}
		if _, found := d.ref(ctx, it); found {
			keep = append(keep, it) // edit the original; no new message
			continue
		}
		drop = append(drop, it.id)
	}
	d.endAsSuperseded(ctx, drop, "resolved, and send_resolved is off")
	return keep
}

func (d *Dispatcher) endAsSuperseded(ctx context.Context, ids []int64, reason string) {
	if len(ids) == 0 {
		return
	}
	if _, err := d.outbox.SupersedeDeliveries(ctx, ids, reason); err != nil {
		d.logStoreErr(ctx, "superseding deliveries", err)
		return
	}
	d.metrics.coalesced.WithLabelValues("superseded").Add(float64(len(ids)))
}

// ref returns the message that shows a delivery's alert group in its chat,
// if it is a single-group message alertgram may edit.
func (d *Dispatcher) ref(ctx context.Context, it item) (store.MessageRef, bool) {
	ref, ok, err := d.outbox.GetMessageRef(ctx, it.to.ChatID, it.to.ThreadID, it.route, it.groupKey)
	if err != nil {
		d.logStoreErr(ctx, "reading message reference", err)
		return store.MessageRef{}, false
	}
	return ref, ok && !ref.Digest && ref.MessageID != 0
}

func (d *Dispatcher) logFor(it item) *slog.Logger {
	return d.log.With("delivery_id", it.id, "chat_id", it.to.ChatID, "route", it.route, "group_key", it.groupKey)
}

func deliveries(items []item) []store.Delivery {
	out := make([]store.Delivery, len(items))
	for i, it := range items {
		out[i] = it.delivery()
	}
	return out
}

// silent reports whether a message about groups should arrive without
// sound: resolved groups, and firing groups whose alerts all have a
// severity the route lists as silent.
func silent(spec RouteSpec, groups ...*alert.Group) bool {
	for _, g := range groups {
		for _, a := range g.Alerts {
			if a.Status == alert.StatusFiring && !slices.Contains(spec.SilentSeverities, a.Labels["severity"]) {
				return false
			}
		}
	}
	return true
}
