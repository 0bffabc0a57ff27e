package testutil

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BuildAlertgram builds cmd/alertgram with extra go build flags into a new
// temporary directory, for tests that run the binary as an operator would.
// It returns the binary's path and a cleanup that removes the directory.
// Build output goes to stderr. Meant for TestMain, hence no testing.TB.
func BuildAlertgram(flags ...string) (path string, cleanup func(), err error) {
	return build(nil, flags)
}

// BuildRelease builds cmd/alertgram as `make build` and the Dockerfile do
// (static, stripped, gin without its MessagePack codec), for the load tool,
// whose memory figures are the release binary's.
func BuildRelease() (path string, cleanup func(), err error) {
	return build([]string{"CGO_ENABLED=0"}, []string{"-trimpath", "-tags", "nomsgpack", "-ldflags", "-s -w"})
}

func build(env, flags []string) (path string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "alertgram-bin")
	if err != nil {
		return "", nil, err
	}
	path = filepath.Join(dir, "alertgram")
	args := append(append([]string{"build"}, flags...), "-o", path, "github.com/alertgram/alertgram/cmd/alertgram")
	// No caller's context to pass: BuildAlertgram and BuildRelease run from
	// TestMain, before any test.
	cmd := exec.CommandContext(context.Background(), "go", args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("building alertgram: %w", err)
	}
	return path, func() { os.RemoveAll(dir) }, nil
}
