package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// LinkCreator makes subscription deep links.
type LinkCreator interface {
	CreateLink(ctx context.Context, req LinkRequest) (any, error)
}

// LinkRequest is the body of POST /api/v1/links.
type LinkRequest struct {
	Route    string   `json:"route"`
	Group    bool     `json:"group"`
	TTL      string   `json:"ttl"`   // Go duration, e.g. "24h"; empty: default
	Matchers []string `json:"match"` // Alertmanager matchers
}

// ParsedTTL returns the TTL as a duration (0 when empty).
func (r LinkRequest) ParsedTTL() (time.Duration, error) {
	if r.TTL == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(r.TTL)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("ttl: %q is not a positive duration like \"24h\"", r.TTL)
	}
	return d, nil
}

// InvalidRequest marks an error caused by the request (answered 400).
type InvalidRequest struct{ Err error }

func (e InvalidRequest) Error() string { return e.Err.Error() }
func (e InvalidRequest) Unwrap() error { return e.Err }

// createLink is POST /api/v1/links, for tools that automate subscriptions.
func createLink(d Deps) gin.HandlerFunc {
	return func(c *gin.Context) {
		if d.Links == nil || d.AdminToken == "" {
			abort(c, http.StatusNotFound, "the admin API is off (set admin.bearer_token)")
			return
		}
		if !equal(c.GetHeader("Authorization"), "Bearer "+d.AdminToken) {
			c.Header("WWW-Authenticate", "Bearer")
			abort(c, http.StatusUnauthorized, "missing or wrong admin bearer token")
			return
		}
		var req LinkRequest
		dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			abort(c, http.StatusBadRequest, "invalid JSON body: "+err.Error())
			return
		}
		if dec.More() || dec.Decode(&struct{}{}) != io.EOF {
			abort(c, http.StatusBadRequest, "invalid JSON body: data after the JSON object")
			return
		}
		if !d.Routes(req.Route) {
			abort(c, http.StatusBadRequest, fmt.Sprintf("route: %q is not configured", req.Route))
			return
		}
		link, err := d.Links.CreateLink(c.Request.Context(), req)
		var invalid InvalidRequest
		switch {
		case errors.As(err, &invalid):
			abort(c, http.StatusBadRequest, invalid.Error())
		case err != nil:
			d.Logger.Error("creating link failed", "route", req.Route, "err", err)
			abort(c, http.StatusServiceUnavailable, "could not create the link: "+err.Error())
		default:
			c.JSON(http.StatusCreated, link)
		}
	}
}
