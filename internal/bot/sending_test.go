package bot

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// A press waits while an answer job of its chat is sending or storing a
// message with buttons, until the job sends again or ends; never for other
// chats, and at most pressWait.
func TestPressWaitsForKeyboardBeingStored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var s sending
		ctx, job := s.job(t.Context(), 1)
		job.sendingKeyboard()
		var waited atomic.Bool
		go func() { s.wait(t.Context(), 1); waited.Store(true) }()
		s.wait(t.Context(), 2) // another chat: no wait
		synctest.Wait()
		if waited.Load() {
			t.Fatal("the press did not wait for the buttons being stored")
		}
		jobOf(ctx).settle() // the job sends its next message: the first is stored
		synctest.Wait()
		if !waited.Load() {
			t.Fatal("the press still waits after the job settled")
		}
		jobOf(ctx).settle() // the job ends: nothing left to settle

		_, stuck := s.job(context.Background(), 1)
		stuck.sendingKeyboard()
		start := time.Now()
		s.wait(t.Context(), 1)
		if got := time.Since(start); got != pressWait {
			t.Errorf("a press waited %v for a stuck job, want pressWait %v", got, pressWait)
		}
		stuck.settle()
		if len(s.chats) != 0 {
			t.Errorf("chats left tracked: %v", s.chats)
		}
	})
}
