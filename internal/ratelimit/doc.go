// Package ratelimit paces sends to the Telegram Bot API so that a bot stays
// inside Telegram's flood limits (PROTOCOLS.md §4.9): about one message per
// second per chat, twenty per minute per group (negative chat id) and thirty
// per second overall. It is a leaf package: it imports nothing from
// alertgram's internal packages.
//
// # Exact sliding windows
//
// Telegram (and testutil's fake Bot API) refuses a send when, counting the
// send itself, more than Max sends fall in a window of length Per ending at
// the send. A token bucket only approximates that; the Limiter instead keeps
// the last Max send instants of every window in a ring buffer and lets a send
// start only when the oldest of them is at least Per+Margin old. The recorded
// sends therefore never put more than Max into any window of length
// Per+Margin, whatever the order of calls. Margin absorbs the network jitter
// between the instant Wait returns and the instant Telegram sees the request:
// as long as two requests' latencies differ by at most Margin, Telegram sees
// no more than Max sends in any window of length Per.
//
// # Fairness
//
// Waiters for one chat are served in the order they called Wait. A chat
// joins the queue for the global budget when its oldest waiter may send as
// far as the chat's own windows and pauses are concerned, and chats are
// granted the global budget first come, first served in that order. A chat
// with a thousand queued messages goes back to the end of that queue after
// every send (its own window also holds it to one send a second), so a chat
// with one message waits behind at most one send of each chat that was ready
// before it, never behind the whole backlog.
//
// # Priority
//
// WaitLow is for sends that must not compete with alerts: the bot's replies
// to commands. Each chat keeps a second FIFO for them, served only when its
// Wait FIFO is empty: a Wait that arrives while a reply waits is served
// first, taking over the chat's place in line. In a group a WaitLow send
// also needs the PerGroup window to hold fewer than PerGroup.Max-LowReserve
// sends, so replies never use the share of a group's budget reserved for
// alerts. Every send, of either priority, counts in every window.
//
// # Pauses
//
// When Telegram answers 429 anyway, the caller reports retry_after with Pause
// (one chat) or PauseAll (every chat, for repeated 429s across chats).
// Pauses only ever extend: an earlier deadline than the one in force is
// ignored.
//
// # Cost
//
// Wait on a chat with no queue and free windows takes one mutex and no
// allocations. Blocked waiters do not poll: each holds at most one timer, and
// only two kinds hold one at all, the first waiter of a chat held by its own
// windows or pause (for the instant they clear) and the first chat in line
// for an exhausted global budget (for the instant it frees). A chat's state
// is O(Max), one ring buffer per window; Forget drops an idle chat's state.
//
// Tests inject a fake Clock; RealClock also works inside a testing/synctest
// bubble.
package ratelimit
