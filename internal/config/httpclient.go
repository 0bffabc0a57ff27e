package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	commoncfg "github.com/prometheus/common/config"
	yamlv2 "go.yaml.in/yaml/v2"
	"gopkg.in/yaml.v3"
)

// HTTPClientConfig is Prometheus' http_config (basic_auth, authorization,
// bearer_token(_file), oauth2, tls_config, proxy_url, ...), as Alertmanager
// and Prometheus read it, for the clients alertgram builds. Pass the
// embedded value to commoncfg.NewClientFromConfig.
//
// It wraps the Prometheus type so that it prints safely: Prometheus'
// Secret hides itself only when marshalled, so fmt's %d or %#v of the bare
// struct would show passwords, and its JSON form shows a proxy_url's
// password. Every fmt verb, YAML and JSON here give the redacted YAML view.
type HTTPClientConfig struct {
	commoncfg.HTTPClientConfig
}

// DefaultHTTPClientConfig is what an absent http_config means: the same as
// an empty one (follow redirects, HTTP/2 allowed).
func DefaultHTTPClientConfig() HTTPClientConfig {
	return HTTPClientConfig{commoncfg.DefaultHTTPClientConfig}
}

// HasCredentials reports whether the config sends credentials of its own
// (basic auth, an Authorization header or OAuth2).
func (h HTTPClientConfig) HasCredentials() bool {
	return h.BasicAuth != nil || h.Authorization != nil || h.OAuth2 != nil || h.BearerToken != "" || h.BearerTokenFile != ""
}

// redacted is the config as a generic value, with secrets and URL
// passwords masked: Prometheus' own YAML form, which masks them.
func (h HTTPClientConfig) redacted() (any, error) {
	out, err := yamlv2.Marshal(h.HTTPClientConfig)
	if err != nil {
		return nil, err
	}
	var v any
	if err := yaml.Unmarshal(out, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// MarshalYAML emits the redacted view.
func (h HTTPClientConfig) MarshalYAML() (any, error) { return h.redacted() }

// MarshalJSON emits the redacted view.
func (h HTTPClientConfig) MarshalJSON() ([]byte, error) {
	v, err := h.redacted()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "<secret>", not "\u003csecret\u003e"
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Format prints the redacted view as one line of JSON for every verb.
func (h HTTPClientConfig) Format(f fmt.State, verb rune) {
	text, err := h.MarshalJSON()
	if err != nil {
		text = []byte("<http_config: " + err.Error() + ">")
	}
	switch {
	case verb == 'q':
		_, _ = io.WriteString(f, strconv.Quote(string(text)))
	case f.Flag('#'):
		_, _ = fmt.Fprintf(f, "config.HTTPClientConfig(%s)", text)
	default:
		_, _ = f.Write(text)
	}
}

// resolvePaths makes the relative file paths in h absolute against dir.
func (h *HTTPClientConfig) resolvePaths(dir string) { h.SetDirectory(dir) }

// httpClientConfig runs Prometheus' own checks and names the key. h is a
// copy because Validate moves bearer_token into authorization.
func (p *problems) httpClientConfig(key string, h HTTPClientConfig) {
	if err := h.Validate(); err != nil {
		p.addf(key, "%v", err)
	}
}
