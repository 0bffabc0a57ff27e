package bot

import (
	"testing"
	"testing/synctest"
	"time"
)

// A press on a message whose send is not recorded yet waits for the
// record, and no longer than pendingWait when the send never completes.
func TestPendingSendsWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var p pendingSends
		done := p.add(7)
		returned := make(chan time.Time, 1)
		start := time.Now()
		go func() {
			p.wait(t.Context(), 7)
			returned <- time.Now()
		}()
		synctest.Wait()
		select {
		case <-returned:
			t.Fatal("wait returned before the send was recorded")
		default:
		}
		done()
		if at := <-returned; at != start {
			t.Fatalf("wait returned %v after the record, want at once", at.Sub(start))
		}
		done() // idempotent

		p.add(8) // never completed
		p.wait(t.Context(), 8)
		if waited := time.Since(start); waited != pendingWait {
			t.Fatalf("waited %v for a send that never completes, want %v", waited, pendingWait)
		}
		p.wait(t.Context(), 9) // unknown: at once
		if waited := time.Since(start); waited != pendingWait {
			t.Fatalf("an unknown message was waited for (%v)", waited-pendingWait)
		}
	})
}
