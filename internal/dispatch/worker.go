package dispatch

import (
	"context"
	"slices"
	"sort"
	"time"
)

// schedule starts a worker for every chat with due deliveries that has none
// running, up to MaxWorkers. Chats are offered longest-waiting first.
func (d *Dispatcher) schedule(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	free := d.cfg.MaxWorkers - d.running()
	if free <= 0 {
		return
	}
	chats, err := d.outbox.PendingChats(ctx, d.cfg.Now(), free+d.running())
	if err != nil {
		d.logStoreErr(ctx, "listing pending chats", err)
		return
	}
	for _, chat := range chats {
		if free > 0 && d.startWorker(ctx, chat) {
			free--
		}
	}
}

func (d *Dispatcher) running() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.workers)
}

func (d *Dispatcher) startWorker(ctx context.Context, chat int64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.workers[chat]; ok {
		return false
	}
	d.workers[chat] = struct{}{}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.runChat(ctx, chat)
		d.mu.Lock()
		delete(d.workers, chat)
		d.idle[chat] = struct{}{}
		d.mu.Unlock()
		d.poke() // the chat may have more due; the scheduler looks again
	}()
	return true
}

// deliverDue sends everything due now, chat by chat, without workers: the
// synchronous form of a scheduling round, for tests.
func (d *Dispatcher) deliverDue(ctx context.Context) {
	chats, err := d.outbox.PendingChats(ctx, d.cfg.Now(), d.cfg.MaxWorkers)
	if err != nil {
		d.logStoreErr(ctx, "listing pending chats", err)
		return
	}
	for _, chat := range chats {
		d.runChat(ctx, chat)
	}
}

// runChat is one chat's worker. It claims the chat's due deliveries,
// prepares one message completely (superseding, digesting, rendering),
// waits for the pacer's slot and sends at once: nothing may delay a request
// after its slot, or Telegram would count it into the wrong window. What
// arrives while the worker waits goes into the next message: that is what
// turns a storm into few messages. It returns when the chat has nothing
// due, on shutdown, or when a failure postponed the chat; what it still
// holds is then released.
//
// A worker holds its claims as headers (store.LightClaims): the payloads
// of a unit are read when its message is prepared, within the payload
// budget, and only a single group's message keeps its group decoded until
// it is sent; a digest keeps its text.
func (d *Dispatcher) runChat(ctx context.Context, chat int64) {
	var held []item
	for ctx.Err() == nil {
		if held = d.claim(ctx, chat, held); len(held) == 0 {
			return
		}
		unit, rest := nextUnit(held)
		j, left, err := d.prepare(ctx, unit)
		held = slices.Concat(left, rest) // a new slice, without room to spare: a worker holds it a while
		if err != nil && ctx.Err() != nil {
			break
		}
		if err != nil {
			d.postponeUnread(ctx, held, int(unit[0].attempts), err)
			return
		}
		if j == nil {
			continue // everything in the unit was superseded
		}
		if err := d.cfg.Pacer.Wait(ctx, chat); err != nil {
			d.budget.release(j.weight)
			held = append(held, strip(j.items)...)
			break
		}
		ok := d.execute(ctx, j)
		d.budget.release(j.weight)
		if !ok {
			d.release(ctx, held, d.cfg.Now(), "chat postponed")
			return
		}
	}
	d.release(ctx, held, d.cfg.Now(), "shutdown")
}

// claim tops held up with the chat's due, unclaimed deliveries, as
// headers: their payloads stay in the store until a message needs them.
func (d *Dispatcher) claim(ctx context.Context, chat int64, held []item) []item {
	room := d.cfg.ChatBatch - len(held)
	if room <= 0 {
		return held
	}
	now := d.cfg.Now()
	more, err := d.outbox.ClaimChatDeliveryHeaders(ctx, d.cfg.Owner, chat, now, now.Add(d.cfg.Lease), room)
	if err != nil {
		d.logStoreErr(ctx, "claiming deliveries", err)
		return held
	}
	seen := make(map[int64]bool, len(held))
	for _, h := range held {
		seen[h.id] = true
	}
	if len(held)+len(more) > cap(held) {
		held = append(make([]item, 0, len(held)+len(more)), held...) // no room to spare
	}
	for _, m := range more {
		if !seen[m.ID] {
			held = append(held, newItem(m))
		}
	}
	return held
}

// postponeUnread gives held back when the payloads of a unit could not be
// read: due after a backoff, so that a failing store is not asked again at
// once (the worker ends; the scheduler starts it again when they are due).
func (d *Dispatcher) postponeUnread(ctx context.Context, held []item, attempts int, err error) {
	d.logStoreErr(ctx, "reading payloads", err)
	d.release(ctx, held, d.cfg.Now().Add(d.backoff(attempts)), "reading payloads: "+err.Error())
}

// release gives held deliveries back, due at next or when they were due,
// whichever is later.
func (d *Dispatcher) release(ctx context.Context, held []item, next time.Time, reason string) {
	if len(held) == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	for _, it := range held {
		if err := d.outbox.RetryDelivery(rctx, it.id, maxTime(next, time.UnixMicro(it.due)), reason); err != nil {
			d.logStoreErr(rctx, "releasing delivery", err)
		}
	}
}

// nextUnit picks what one message will carry: every held delivery for the
// same topic and route as the oldest one. A unit becomes one message (one
// alert group) or one digest (several).
func nextUnit(held []item) (unit, rest []item) {
	sort.SliceStable(held, func(i, j int) bool { return held[i].notificationID < held[j].notificationID })
	first := held[0]
	for _, it := range held {
		if it.to.ThreadID == first.to.ThreadID && it.route == first.route {
			unit = append(unit, it)
		} else {
			rest = append(rest, it)
		}
	}
	return unit, rest
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
