package dispatch

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"

	"github.com/alertgram/alertgram/internal/alert"
	"github.com/alertgram/alertgram/internal/store"
)

// item is a delivery with its decoded alert group.
type item struct {
	del store.Delivery
	g   *alert.Group
}

// prepare turns one unit (deliveries for one chat, topic and route) into
// one ready-to-send message: older states are superseded, unwanted
// resolved notifications dropped, and the rest rendered, as one group or
// as a digest. It returns nil when nothing is left to send, and the
// deliveries a digest deferred for the next message.
func (d *Dispatcher) prepare(ctx context.Context, unit []store.Delivery) (*job, []store.Delivery) {
	items := d.decode(ctx, unit)
	items = d.supersede(ctx, items)
	items = d.dropUnwantedResolved(ctx, items)
	switch len(items) {
	case 0:
		return nil, nil
	case 1:
		return d.prepareSingle(ctx, items[0]), nil
	}
	return d.prepareDigest(ctx, items)
}

func (d *Dispatcher) decode(ctx context.Context, unit []store.Delivery) []item {
	items := make([]item, 0, len(unit))
	for _, del := range unit {
		g := new(alert.Group)
		if err := json.Unmarshal(del.Payload, g); err != nil {
			d.fail(ctx, d.logFor(del), []store.Delivery{del}, "undecodable payload: "+err.Error())
			continue
		}
		items = append(items, item{del: del, g: g})
	}
	return items
}

// supersede keeps, per alert group, only the newest state: an older unsent
// notification of the same group is obsolete once a newer one exists.
func (d *Dispatcher) supersede(ctx context.Context, items []item) []item {
	newest := map[string]int{} // group key → index of its newest item
	for i, it := range items {
		if j, ok := newest[it.del.GroupKey]; !ok || it.del.NotificationID > items[j].del.NotificationID {
			newest[it.del.GroupKey] = i
		}
	}
	var keep []item
	var old []int64
	for i, it := range items {
		if newest[it.del.GroupKey] == i {
			keep = append(keep, it)
		} else {
			old = append(old, it.del.ID)
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
		if it.g.Status != alert.StatusResolved || d.spec(it.del.Route).SendResolved {
			keep = append(keep, it)
			continue
		}
		if _, found := d.ref(ctx, it.del); found {
			keep = append(keep, it) // edit the original; no new message
			continue
		}
		drop = append(drop, it.del.ID)
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
func (d *Dispatcher) ref(ctx context.Context, del store.Delivery) (store.MessageRef, bool) {
	ref, ok, err := d.outbox.GetMessageRef(ctx, del.Target.ChatID, del.Target.ThreadID, del.Route, del.GroupKey)
	if err != nil {
		d.logStoreErr(ctx, "reading message reference", err)
		return store.MessageRef{}, false
	}
	return ref, ok && !ref.Digest && ref.MessageID != 0
}

func (d *Dispatcher) logFor(del store.Delivery) *slog.Logger {
	return d.log.With("delivery_id", del.ID, "chat_id", del.Target.ChatID, "route", del.Route, "group_key", del.GroupKey)
}

func deliveries(items []item) []store.Delivery {
	out := make([]store.Delivery, len(items))
	for i, it := range items {
		out[i] = it.del
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
