package bot

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/alertgram/alertgram/internal/render"
	"github.com/alertgram/alertgram/internal/telegram"
)

// DefaultReplyWorkers is how many chats' replies alertgram sends at once.
const DefaultReplyWorkers = 4

// replyDrain bounds how long Stop waits for queued replies.
const replyDrain = 2 * time.Second

// lowPacer is a Pacer that can also wait at low priority: never ahead of
// the chat's queued alerts (ratelimit.Limiter.WaitLow).
type lowPacer interface {
	WaitLow(ctx context.Context, chatID int64) error
}

// reply answers in the same chat and topic as plain text: no parse mode, so
// nothing a user typed can break it. The answer is sent once the update's
// handling is done (HandleUpdate).
func (b *Bot) reply(m *telegram.Message, text string) {
	b.later(m, func(ctx context.Context, m *telegram.Message) {
		sendReply(ctx, b.api, b.opts.Pacer, b.log, m, text, nil)
	})
}

// later adds send, with a copy of m, to the answers of the update being
// handled; call with b.handling held.
func (b *Bot) later(m *telegram.Message, send func(ctx context.Context, m *telegram.Message)) {
	msg := *m
	b.pending = append(b.pending, replyJob{chatID: m.Chat.ID, run: func(ctx context.Context) { send(ctx, &msg) }})
}

// maxReplyRunes keeps the bot's answers under Telegram's 4096 limit.
const maxReplyRunes = 4000

// sendReply answers m in its chat and topic with text (cut to fit) and kb,
// once pacer grants the chat a slot, at low priority if it can (behind the
// chat's alerts); ok is false if it was not sent. It waits: call it off
// the handling lock, as answer jobs run.
func sendReply(ctx context.Context, api interface {
	SendMessage(ctx context.Context, p telegram.SendMessageParams) (telegram.Message, error)
}, pacer Pacer, log *slog.Logger, m *telegram.Message, text string, kb *telegram.InlineKeyboardMarkup,
) (sent telegram.Message, ok bool) {
	if err := paceReply(ctx, pacer, m.Chat.ID); err != nil {
		level := slog.LevelDebug // shutdown
		if errors.Is(err, context.DeadlineExceeded) {
			level = slog.LevelWarn
		}
		log.Log(ctx, level, "reply not sent: no send slot in time", "chat_id", m.Chat.ID, "err", err)
		return sent, false
	}
	sent, err := api.SendMessage(ctx, telegram.SendMessageParams{
		ChatID: m.Chat.ID, MessageThreadID: thread(m), Text: render.TruncateRunes(maxReplyRunes, text), ReplyMarkup: kb,
		LinkPreviewOptions: &telegram.LinkPreviewOptions{IsDisabled: true},
	})
	if err != nil {
		log.Warn("reply failed", "chat_id", m.Chat.ID, "err", err)
		return sent, false
	}
	return sent, true
}

// paceReply waits for an answer's slot in chatID: at low priority when
// pacer offers it.
func paceReply(ctx context.Context, pacer Pacer, chatID int64) error {
	switch p := pacer.(type) {
	case nil:
		return nil
	case lowPacer:
		return p.WaitLow(ctx, chatID)
	default:
		return p.Wait(ctx, chatID)
	}
}

// replyJob sends the answers to one command: a reply, or a whole listing
// (/alerts, /silences) that asks Alertmanager and sends its own.
type replyJob struct {
	chatID int64
	run    func(ctx context.Context)
}

// replyQueue sends replies off the update loop: a FIFO per chat, at most
// max jobs queued in all, served by at most workers goroutines, one chat
// per worker at a time so
// that a chat's replies keep their order and a chat whose replies wait for
// their pacing slot holds up no other chat's. Chats take turns: after each
// job its chat goes to the back of the line. Workers start when there is
// work and exit when there is none.
type replyQueue struct {
	log     *slog.Logger
	metrics *metrics
	workers int
	max     int           // queued jobs, all chats together
	timeout time.Duration // per job

	ctx    context.Context // the workers'; cancelled by stop
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	chats   map[int64]*replyChat // with queued jobs or one under way
	line    []*replyChat         // with queued jobs and none under way, in turn
	queued  int
	running int // workers
	closed  bool
}

type replyChat struct {
	id   int64
	jobs []replyJob
	busy bool // a worker runs one of its jobs
}

func newReplyQueue(workers, limit int, timeout time.Duration, l *slog.Logger, m *metrics) *replyQueue {
	ctx, cancel := context.WithCancel(context.Background())
	return &replyQueue{
		log: l, metrics: m, workers: workers, max: limit, timeout: timeout,
		ctx: ctx, cancel: cancel, chats: map[int64]*replyChat{},
	}
}

// submit queues j without ever blocking; a full queue, or a stopped one,
// drops it with a log line.
func (q *replyQueue) submit(j replyJob) {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.closed:
		q.drop(j.chatID, "shutdown")
		return
	case q.queued >= q.max:
		q.drop(j.chatID, "queue_full")
		return
	}
	c := q.chats[j.chatID]
	if c == nil {
		c = &replyChat{id: j.chatID}
		q.chats[j.chatID] = c
	}
	c.jobs = append(c.jobs, j)
	q.queued++
	if !c.busy && len(c.jobs) == 1 {
		q.line = append(q.line, c)
	}
	if len(q.line) > 0 && q.running < q.workers {
		q.running++
		q.wg.Add(1)
		go q.work()
	}
}

func (q *replyQueue) drop(chatID int64, reason string) {
	q.metrics.repliesDropped.WithLabelValues(reason).Inc()
	q.log.Warn("reply dropped", "chat_id", chatID, "reason", reason, "queued", q.queued)
}

func (q *replyQueue) work() {
	defer q.wg.Done()
	for {
		c, j, ok := q.next()
		if !ok {
			return
		}
		runJob(q.ctx, q.timeout, j)
		q.done(c)
	}
}

// next takes the job of the chat whose turn it is; false, and the worker
// is gone, when no chat waits.
func (q *replyQueue) next() (*replyChat, replyJob, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.line) == 0 {
		q.running--
		return nil, replyJob{}, false
	}
	c := q.line[0]
	q.line[0] = nil
	q.line = q.line[1:]
	j := c.jobs[0]
	c.jobs[0] = replyJob{}
	c.jobs = c.jobs[1:]
	c.busy = true
	q.queued--
	return c, j, true
}

// done puts c back in line if it has more jobs, or forgets it.
func (q *replyQueue) done(c *replyChat) {
	q.mu.Lock()
	defer q.mu.Unlock()
	c.busy = false
	if len(c.jobs) > 0 {
		q.line = append(q.line, c)
		return
	}
	delete(q.chats, c.id)
}

// stop refuses new jobs and waits until the queued ones are done, for at
// most replyDrain or until ctx ends; then it drops the rest, cancels those
// under way and waits for the workers to exit.
func (q *replyQueue) stop(ctx context.Context) {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	idle := make(chan struct{})
	go func() { q.wg.Wait(); close(idle) }()
	drain := time.NewTimer(replyDrain)
	defer drain.Stop()
	select {
	case <-idle:
	case <-ctx.Done():
	case <-drain.C:
	}
	q.mu.Lock()
	dropped := q.queued
	for _, c := range q.chats {
		c.jobs = nil
	}
	q.line, q.queued = nil, 0
	q.mu.Unlock()
	q.cancel()
	<-idle
	if dropped > 0 {
		q.metrics.repliesDropped.WithLabelValues("shutdown").Add(float64(dropped))
		q.log.Warn("replies dropped at shutdown", "dropped", dropped)
	}
}

// runJob runs j with at most timeout for it under ctx.
func runJob(ctx context.Context, timeout time.Duration, j replyJob) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	j.run(ctx)
}
