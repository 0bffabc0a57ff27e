package ratelimit

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// stepClock moves forward by step on every Now, so every Wait finds its
// chat's and the global windows clear: Wait's uncontended path.
type stepClock struct {
	now  atomic.Int64
	step time.Duration
}

func (c *stepClock) Now() time.Time { return time.Unix(0, c.now.Add(int64(c.step))) }

func (c *stepClock) NewTimer(time.Duration) Timer { panic("an uncontended Wait blocked") }

// BenchmarkWaitUncontended: Wait on a free chat (64 chats, half of them
// groups, Telegram's limits).
func BenchmarkWaitUncontended(b *testing.B) {
	l := New(DefaultLimits(), &stepClock{step: 1100 * time.Millisecond})
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := l.Wait(ctx, int64(i%64-32)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWaitUncontendedParallel: the same from GOMAXPROCS goroutines,
// which all share the Limiter's mutex.
func BenchmarkWaitUncontendedParallel(b *testing.B) {
	l := New(DefaultLimits(), &stepClock{step: 1100 * time.Millisecond})
	ctx := context.Background()
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		chat := next.Add(1000)
		for i := int64(0); pb.Next(); i++ {
			if err := l.Wait(ctx, chat+i%64-32); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
