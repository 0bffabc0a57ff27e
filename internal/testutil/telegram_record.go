package testutil

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"testing"
	"time"
)

// record appends the call to the log; aerr is nil on success.
func (f *Telegram) record(req *request, aerr *apiError) {
	c := Call{Method: req.method, Params: maps.Clone(req.params), Status: http.StatusOK, Time: f.now()}
	if aerr != nil {
		c.Status, c.Description = aerr.code, aerr.description
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
	f.notify()
}

// Messages returns every message accepted so far, in order.
func (f *Telegram) Messages() []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.messages)
}

// MessagesIn returns the accepted messages sent to one chat.
func (f *Telegram) MessagesIn(chatID int64) []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.messagesIn(chatID)
}

func (f *Telegram) messagesIn(chatID int64) []Message {
	var out []Message
	for _, m := range f.messages {
		if m.ChatID == chatID {
			out = append(out, m)
		}
	}
	return out
}

// Edits returns every accepted edit, in order.
func (f *Telegram) Edits() []Edit {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.edits)
}

// Calls returns every call of method ("sendMessage", ...; "" for all),
// including refused ones.
func (f *Telegram) Calls(method string) []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.callsOf(method)
}

func (f *Telegram) callsOf(method string) []Call {
	var out []Call
	for _, c := range f.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Answers returns every accepted answerCallbackQuery.
func (f *Telegram) Answers() []Answer {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.answers)
}

// Deliveries returns every attempt to POST an update to the webhook.
func (f *Telegram) Deliveries() []Delivery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.deliveries)
}

// Violations counts sends refused with 429 by the rate limits (canned
// FailNext errors do not count).
func (f *Telegram) Violations() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.violations
}

// WaitMessages blocks until at least n messages were accepted and returns
// them all; it fails the test after timeout. Call it from the test
// goroutine.
func (f *Telegram) WaitMessages(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	f.waitFor(t, timeout, fmt.Sprintf("%d accepted messages", n), func() bool { return len(f.messages) >= n })
	return f.Messages()
}

// WaitMessagesIn blocks until at least n messages were accepted in one
// chat and returns them; it fails the test after timeout.
func (f *Telegram) WaitMessagesIn(t testing.TB, chatID int64, n int, timeout time.Duration) []Message {
	t.Helper()
	f.waitFor(t, timeout, fmt.Sprintf("%d accepted messages in chat %d", n, chatID), func() bool {
		return len(f.messagesIn(chatID)) >= n
	})
	return f.MessagesIn(chatID)
}

// WaitCalls blocks until method was called at least n times (refused calls
// count) and returns its calls; it fails the test after timeout.
func (f *Telegram) WaitCalls(t testing.TB, method string, n int, timeout time.Duration) []Call {
	t.Helper()
	f.waitFor(t, timeout, fmt.Sprintf("%d %s calls", n, method), func() bool { return len(f.callsOf(method)) >= n })
	return f.Calls(method)
}

// WaitDeliveries blocks until at least n webhook delivery attempts were
// made; it fails the test after timeout.
func (f *Telegram) WaitDeliveries(t testing.TB, n int, timeout time.Duration) []Delivery {
	t.Helper()
	f.waitFor(t, timeout, fmt.Sprintf("%d webhook deliveries", n), func() bool { return len(f.deliveries) >= n })
	return f.Deliveries()
}

// waitFor waits on the change channel until cond (run with f.mu held)
// holds, or fails the test.
func (f *Telegram) waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		f.mu.Lock()
		ok, changed := cond(), f.changed
		f.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("fake Telegram: timed out after %v waiting for %s", timeout, what)
		}
	}
}

// FailNext makes the next call of method fail with the given status and
// description (e.g. 500 "Internal Server Error", or 429 "Too Many
// Requests: retry after 5" with retryAfter 5). Each call queues one
// failure; they are used in order.
func (f *Telegram) FailNext(method string, code int, description string, retryAfter int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures[method] = append(f.failures[method], cannedError{code: code, description: description, retryAfter: retryAfter})
}

func (f *Telegram) takeFailure(method string) *apiError {
	f.mu.Lock()
	defer f.mu.Unlock()
	queue := f.failures[method]
	if len(queue) == 0 {
		return nil
	}
	c := queue[0]
	f.failures[method] = queue[1:]
	return &apiError{code: c.code, description: c.description, retryAfter: c.retryAfter}
}
