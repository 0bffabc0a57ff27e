// Command alertgram is the Telegram alert bridge for Prometheus
// Alertmanager and Grafana. main only parses input and maps errors to exit
// codes; everything else lives in internal/app.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/alertgram/alertgram/internal/app"
	"github.com/alertgram/alertgram/internal/config"
)

// Set by the linker: -X main.version=... -X main.commit=...
var (
	version = "dev"
	commit  = "unknown"
)

const usage = `alertgram: Telegram alert bridge for Prometheus Alertmanager and Grafana

Usage:
  alertgram serve --config FILE
  alertgram render --config FILE --route NAME PAYLOAD.json
  alertgram check-config FILE
  alertgram version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks errors that deserve the usage text.
var errUsage = errors.New("usage")

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(args[1:], stderr)
	case "render":
		err = renderCmd(args[1:], stdout)
	case "check-config":
		err = checkConfig(args[1:], stdout)
	case "version":
		fmt.Fprintf(stdout, "alertgram %s (commit %s, %s %s/%s)\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		err = fmt.Errorf("%w: unknown command %q", errUsage, args[0])
	}
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "alertgram:", err)
	if errors.Is(err, errUsage) {
		fmt.Fprint(stderr, usage)
		return 2
	}
	return 1
}

func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: --config FILE is required", errUsage)
	}
	return config.Load(path) // Load validates: errors name the key and line
}

func newFlags(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs, fs.String("config", "", "config file")
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %s: %v", errUsage, fs.Name(), err)
	}
	return nil
}

func serve(args []string, stderr io.Writer) error {
	fs, path := newFlags("serve")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	logger, err := newLogger(cfg.Log, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a, err := app.New(ctx, cfg, logger, reg)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

func renderCmd(args []string, stdout io.Writer) error {
	fs, path := newFlags("render")
	route := fs.String("route", "", "route name")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *route == "" || fs.NArg() != 1 {
		return fmt.Errorf("%w: render needs --config, --route and one PAYLOAD.json", errUsage)
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	payload, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	msg, err := app.RenderPayload(cfg, *route, payload)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, msg.Text)
	return err
}

func checkConfig(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("%w: check-config needs exactly one FILE", errUsage)
	}
	cfg, err := loadConfig(args[0])
	if err != nil {
		return err
	}
	if _, err := app.NewRenderer(cfg); err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	fmt.Fprintf(stdout, "%s: OK (%d routes)\n", args[0], len(cfg.Routes))
	return nil
}

func newLogger(c config.Log, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}
