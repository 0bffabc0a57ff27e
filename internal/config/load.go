package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Defaults for keys that are not set.
const (
	DefaultListen       = "127.0.0.1:8080"
	DefaultStorage      = "sqlite://alertgram.db"
	DefaultMaxBodyBytes = 4 << 20
	DefaultAPIURL       = "https://api.telegram.org"
	DefaultAlertmanager = "http://127.0.0.1:9093"
	DefaultTemplate     = "default"
)

// Load reads the config file at path; see Parse.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	cfg, err := Parse(data, filepath.Dir(abs))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse parses a config file's contents; dir is the file's directory, which
// relative paths are resolved against ("" means the working directory).
// In order it: expands ${VAR} in values from the environment, decodes
// strictly over the defaults, resolves relative paths, reads the *_file
// secrets and runs Validate. Every problem found at a step is reported,
// joined, each naming its key (and its line, up to decoding).
func Parse(data []byte, dir string) (*Config, error) {
	return parse(data, dir, os.LookupEnv, os.Hostname)
}

func parse(data []byte, dir string, lookup lookupFunc, hostname func() (string, error)) (*Config, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	root, err := parseDocument(data)
	if err != nil {
		return nil, err
	}
	cfg := defaults(hostname)
	cfg.Dir = dir
	if root != nil {
		if err := decodeDocument(root, cfg, lookup); err != nil {
			return nil, err
		}
	}
	cfg.resolvePaths()
	if err := cfg.readSecretFiles(); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// parseDocument parses exactly one YAML document; nil means an empty file.
func parseDocument(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); errors.Is(err, io.EOF) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("line %d: a config file holds one YAML document, found another", next.Line)
	}
	return &root, nil
}

// decodeDocument expands and decodes root into cfg.
func decodeDocument(root *yaml.Node, cfg *Config, lookup lookupFunc) error {
	e := &expander{lookup: lookup, original: make(map[*yaml.Node]string), failed: make(map[*yaml.Node]bool)}
	e.tree(root, "")
	d := &decoder{original: e.original, skip: e.failed, aliases: make(map[*yaml.Node]bool), set: make(map[string]bool)}
	if len(root.Content) == 1 {
		d.decode(root.Content[0], reflect.ValueOf(cfg).Elem(), "")
	}
	cfg.Alertmanager.yieldDefaultURL(d.set)
	return errors.Join(append(e.errs, d.errs...)...)
}

func defaults(hostname func() (string, error)) *Config {
	host, _ := hostname() // on failure instance_id stays empty and Validate says so
	return &Config{
		Listen:       DefaultListen,
		Storage:      DefaultStorage,
		InstanceID:   host,
		MaxBodyBytes: DefaultMaxBodyBytes,
		Log:          Log{Level: "info", Format: "text"},
		Telegram:     Telegram{APIURL: DefaultAPIURL, Updates: UpdatesPolling},
		Alertmanager: defaultAlertmanager(),
		Grafana:      defaultGrafana(),
		Delivery:     defaultDelivery(),
		Actions:      defaultActions(),
		Links:        Links{MaxTTL: DefaultLinkMaxTTL},
	}
}

// resolvePaths makes the relative paths absolute against c.Dir.
func (c *Config) resolvePaths() {
	for _, p := range []*string{
		&c.TemplatesDir, &c.Telegram.TokenFile, &c.Telegram.WebhookSecretFile, &c.WebhookAuth.BearerTokenFile, &c.Admin.BearerTokenFile,
	} {
		*p = c.resolve(*p)
	}
	if c.WebhookAuth.BasicAuth != nil {
		c.WebhookAuth.BasicAuth.PasswordFile = c.resolve(c.WebhookAuth.BasicAuth.PasswordFile)
	}
	if h := c.WebhookAuth.GrafanaHMAC; h != nil {
		h.SecretFile = c.resolve(h.SecretFile)
	}
	c.resolveAPIPaths()
	if path, ok := strings.CutPrefix(c.Storage, sqliteScheme); ok && plainSQLitePath(path) {
		c.Storage = sqliteScheme + c.resolve(path)
	}
}

func (c *Config) resolve(path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(c.Dir, path)
}

// secretField is a Secret and its *_file twin.
type secretField struct {
	key, fileKey string
	value        *Secret
	file         string
}

func (c *Config) secretFields() []secretField {
	fields := []secretField{
		{"telegram.token", "telegram.token_file", &c.Telegram.Token, c.Telegram.TokenFile},
		{"telegram.webhook_secret", "telegram.webhook_secret_file", &c.Telegram.WebhookSecret, c.Telegram.WebhookSecretFile},
		{"webhook_auth.bearer_token", "webhook_auth.bearer_token_file", &c.WebhookAuth.BearerToken, c.WebhookAuth.BearerTokenFile},
		{"admin.bearer_token", "admin.bearer_token_file", &c.Admin.BearerToken, c.Admin.BearerTokenFile},
	}
	if b := c.WebhookAuth.BasicAuth; b != nil {
		fields = append(fields, secretField{"webhook_auth.basic_auth.password", "webhook_auth.basic_auth.password_file", &b.Password, b.PasswordFile})
	}
	if h := c.WebhookAuth.GrafanaHMAC; h != nil {
		fields = append(fields, secretField{"webhook_auth.grafana_hmac.secret", "webhook_auth.grafana_hmac.secret_file", &h.Secret, h.SecretFile})
	}
	fields = append(fields, c.grafanaSecretFields()...)
	return fields
}

// readSecretFiles reads each *_file into its Secret twin.
func (c *Config) readSecretFiles() error {
	var errs []error
	for _, f := range c.secretFields() {
		if f.file == "" {
			continue
		}
		if !f.value.IsZero() {
			errs = append(errs, fmt.Errorf("%s and %s are mutually exclusive: set one of them", f.key, f.fileKey))
			continue
		}
		value, err := readSecretFile(f.file)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.fileKey, err))
			continue
		}
		*f.value = value
	}
	return errors.Join(errs...)
}

// readSecretFile reads a secret, dropping one trailing newline.
func readSecretFile(path string) (Secret, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := string(data)
	if t, ok := strings.CutSuffix(s, "\n"); ok {
		s = strings.TrimSuffix(t, "\r")
	}
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return Secret(s), nil
}
