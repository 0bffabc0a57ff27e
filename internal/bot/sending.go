package bot

import (
	"context"
	"sync"
	"time"
)

// pressWait bounds how long a press waits for a keyboard being sent in its
// chat (sending.wait).
const pressWait = 3 * time.Second

// sending tracks, per chat, answers with buttons that are being sent and
// stored. A listing (/silences) sends its message and then stores the
// message's buttons; a press on them handled in between would find no
// button and be answered "expired". Answers are sent off the update loop,
// so a press can come before the store did: onCallback waits for it. The
// span tracked starts once the answer has its pacing slot and ends when the
// answer job sends again or ends, so a press never waits for pacing.
type sending struct {
	mu    sync.Mutex
	chats map[int64]*inFlight
}

type inFlight struct {
	n    int           // answer jobs in their span
	done chan struct{} // closed when n drops to 0
}

// answerJob is the state of one answer job, in its context.
type answerJob struct {
	s      *sending
	chatID int64
	open   bool // in its span
}

type answerJobKey struct{}

// job returns ctx carrying the state of an answer job for chatID; call its
// settle when the job is done.
func (s *sending) job(ctx context.Context, chatID int64) (context.Context, *answerJob) {
	j := &answerJob{s: s, chatID: chatID}
	return context.WithValue(ctx, answerJobKey{}, j), j
}

func jobOf(ctx context.Context) *answerJob {
	j, _ := ctx.Value(answerJobKey{}).(*answerJob)
	return j
}

// sendingKeyboard opens j's span: a message with buttons goes out now.
func (j *answerJob) sendingKeyboard() {
	if j == nil || j.open {
		return
	}
	j.open = true
	s := j.s
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.chats[j.chatID]
	if f == nil {
		f = &inFlight{done: make(chan struct{})}
		if s.chats == nil {
			s.chats = map[int64]*inFlight{}
		}
		s.chats[j.chatID] = f
	}
	f.n++
}

// settle closes j's span: what it sent before is stored.
func (j *answerJob) settle() {
	if j == nil || !j.open {
		return
	}
	j.open = false
	s := j.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.chats[j.chatID]; f != nil {
		if f.n--; f.n == 0 {
			close(f.done)
			delete(s.chats, j.chatID)
		}
	}
}

// wait waits until no message with buttons is being sent and stored in
// chatID, for at most pressWait.
func (s *sending) wait(ctx context.Context, chatID int64) {
	s.mu.Lock()
	f := s.chats[chatID]
	s.mu.Unlock()
	if f == nil {
		return
	}
	t := time.NewTimer(pressWait)
	defer t.Stop()
	select {
	case <-f.done:
	case <-t.C:
	case <-ctx.Done():
	}
}
