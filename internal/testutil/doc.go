// Package testutil holds what tests of several packages share: a fake
// Telegram Bot API server, a real Alertmanager process, builds of the
// alertgram binary, a manual clock and golden files.
package testutil
