package dispatch

import (
	"context"
	"sort"
	"time"

	"github.com/alertgram/alertgram/internal/store"
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
func (d *Dispatcher) runChat(ctx context.Context, chat int64) {
	var batch []store.Delivery
	for ctx.Err() == nil {
		if batch = d.claim(ctx, chat, batch); len(batch) == 0 {
			return
		}
		unit, rest := nextUnit(batch)
		j, left := d.prepare(ctx, unit)
		batch = append(left, rest...)
		if j == nil {
			continue // everything in the unit was superseded
		}
		if err := d.cfg.Pacer.Wait(ctx, chat); err != nil {
			batch = append(batch, deliveries(j.items)...)
			break
		}
		if !d.execute(ctx, j) {
			d.release(ctx, batch, "chat postponed")
			return
		}
	}
	d.release(ctx, batch, "shutdown")
}

// claim tops held up with the chat's due, unclaimed deliveries.
func (d *Dispatcher) claim(ctx context.Context, chat int64, held []store.Delivery) []store.Delivery {
	room := d.cfg.ChatBatch - len(held)
	if room <= 0 {
		return held
	}
	now := d.cfg.Now()
	more, err := d.outbox.ClaimChatDeliveries(ctx, d.cfg.Owner, chat, now, now.Add(d.cfg.Lease), room)
	if err != nil {
		d.logStoreErr(ctx, "claiming deliveries", err)
		return held
	}
	seen := make(map[int64]bool, len(held))
	for _, h := range held {
		seen[h.ID] = true
	}
	for _, m := range more {
		if !seen[m.ID] {
			held = append(held, m)
		}
	}
	return held
}

// release gives held deliveries back, due when the chat may send again.
func (d *Dispatcher) release(ctx context.Context, held []store.Delivery, reason string) {
	if len(held) == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	next := d.cfg.Now()
	for _, del := range held {
		if err := d.outbox.RetryDelivery(rctx, del.ID, maxTime(next, del.NextAttemptAt), reason); err != nil {
			d.logStoreErr(rctx, "releasing delivery", err)
		}
	}
}

// nextUnit picks what one message will carry: every held delivery for the
// same topic and route as the oldest one. A unit becomes one message (one
// alert group) or one digest (several).
func nextUnit(batch []store.Delivery) (unit, rest []store.Delivery) {
	sort.SliceStable(batch, func(i, j int) bool { return batch[i].NotificationID < batch[j].NotificationID })
	first := batch[0]
	for _, del := range batch {
		if del.Target.ThreadID == first.Target.ThreadID && del.Route == first.Route {
			unit = append(unit, del)
		} else {
			rest = append(rest, del)
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
