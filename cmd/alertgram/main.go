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
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/alertgram/alertgram/internal/app"
	"github.com/alertgram/alertgram/internal/bot"
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
  alertgram link --config FILE --route NAME [--group] [--ttl 24h] [--match LABEL=VALUE ...]
  alertgram render --config FILE --route NAME [--source alertmanager|grafana] PAYLOAD.json
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
	case "link":
		err = linkCmd(args[1:], stdout, stderr)
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
		return fmt.Errorf("%w: %s: %w", errUsage, fs.Name(), err)
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

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return fmt.Sprint(*s) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func linkCmd(args []string, stdout, stderr io.Writer) error {
	fs, path := newFlags("link")
	route := fs.String("route", "", "route name")
	group := fs.Bool("group", false, "a link that adds the bot to a group (?startgroup=)")
	ttl := fs.Duration("ttl", bot.DefaultLinkTTL, "how long the link works")
	var matchers stringList
	fs.Var(&matchers, "match", "only alerts matching this Alertmanager matcher (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *route == "" || fs.NArg() != 0 {
		return fmt.Errorf("%w: link needs --config and --route", errUsage)
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	logger, err := newLogger(config.Log{Level: "warn", Format: cfg.Log.Format}, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	link, err := app.CreateLink(ctx, cfg, bot.LinkRequest{
		Route: *route, Group: *group, TTL: *ttl, Matchers: matchers, CreatedBy: "cli",
	}, logger)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, link.URL)
	fmt.Fprintf(stderr, "single use, valid until %s, subscribes to route %q\n", link.ExpiresAt.UTC().Format(time.RFC3339), link.Route)
	return nil
}

func renderCmd(args []string, stdout io.Writer) error {
	fs, path := newFlags("render")
	route := fs.String("route", "", "route name")
	source := fs.String("source", "", "alertmanager or grafana; default: told by the payload's version")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *route == "" || fs.NArg() != 1 {
		return fmt.Errorf("%w: render needs --config, --route and one PAYLOAD.json", errUsage)
	}
	if *source != app.SourceAuto && *source != app.SourceAlertmanager && *source != app.SourceGrafana {
		return fmt.Errorf("%w: --source must be alertmanager or grafana, not %q", errUsage, *source)
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	payload, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	msg, err := app.RenderPayload(cfg, *route, *source, payload)
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
