package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/pullpush/pullpush/origin"
)

// maxSettingsBody bounds a channel or endpoint settings body.
const maxSettingsBody = 256 << 10

// channelRoutes are the routes that create, change and delete channels
// and their endpoints.
func (a *API) channelRoutes() []route {
	settings := "the channel's settings, with the keys of a channel in the YAML configuration (pullpush origin -h); passwords and CDN secrets are never returned"
	return []route{
		{method: "POST", path: "/api/v1/channels", summary: "Create a channel: it takes ingest and serves playback at once, and is stored (bbolt under --data, or the shared bucket)",
			body:      `a channel as in the YAML (JSON or YAML): {"id", "username", "password", "inputs", "startoverWindow", "manifestWindow", "endpoints": [...], "cdnAuth", "ingestAllow", ...}`,
			responses: map[string]string{"201": settings, "400": "invalid settings (the error names the key)", "409": "the channel exists"}, handler: a.createChannel},
		{method: "GET", path: "/api/v1/channels/{id}/settings", summary: "A channel's settings (defaults applied)",
			responses: map[string]string{"200": settings, "404": "no such channel"}, handler: a.getSettings},
		{method: "PUT", path: "/api/v1/channels/{id}", summary: "Replace a channel's settings; the index is kept; an empty password (or CDN secret list) keeps the current one",
			body:      "a channel as in the YAML; id, when given, must be the path's",
			responses: map[string]string{"200": settings, "400": "invalid settings", "404": "no such channel"}, handler: a.updateChannel},
		{method: "DELETE", path: "/api/v1/channels/{id}", summary: "Delete a channel and release its segments",
			responses: map[string]string{"204": "deleted", "404": "no such channel"}, handler: a.deleteChannel},
		{method: "POST", path: "/api/v1/channels/{id}/endpoints", summary: "Add an endpoint to a channel",
			body:      `an endpoint as in the YAML: {"id", "packaging": "ts"|"cmaf"|"dash", "manifestWindow", "encryption", "adMarkers", "streamSelection", "segmentDuration", ...}`,
			responses: map[string]string{"201": settings, "400": "invalid settings", "404": "no such channel", "409": "the endpoint exists"}, handler: a.createEndpoint},
		{method: "PUT", path: "/api/v1/channels/{id}/endpoints/{endpoint}", summary: "Replace an endpoint's settings",
			body:      "an endpoint as in the YAML; id, when given, must be the path's",
			responses: map[string]string{"200": settings, "400": "invalid settings", "404": "no such channel or endpoint"}, handler: a.updateEndpoint},
		{method: "DELETE", path: "/api/v1/channels/{id}/endpoints/{endpoint}", summary: "Delete an endpoint (a channel keeps at least one)",
			responses: map[string]string{"200": settings, "400": "the channel's last endpoint", "404": "no such channel or endpoint"}, handler: a.deleteEndpoint},
	}
}

// errNoEndpoint and errEndpointExists are the endpoint edits' failures.
var (
	errNoEndpoint     = errors.New("no such endpoint")
	errEndpointExists = errors.New("endpoint exists")
	errLastEndpoint   = errors.New("a channel keeps at least one endpoint: delete the channel instead")
)

func (a *API) createChannel(w http.ResponseWriter, r *http.Request) {
	data, ok := readBody(w, r)
	if !ok {
		return
	}
	cc, err := origin.ParseChannelConfig(data)
	if err != nil {
		writeError(w, err)
		return
	}
	got, err := a.origin.AddChannel(r.Context(), cc)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Location", "/api/v1/channels/"+got.ID)
	writeSettings(w, http.StatusCreated, got)
}

func (a *API) getSettings(w http.ResponseWriter, r *http.Request) {
	cc, ok := a.origin.ChannelSettings(r.PathValue("id"))
	if !ok {
		writeError(w, origin.ErrNoChannel)
		return
	}
	writeSettings(w, http.StatusOK, cc)
}

func (a *API) updateChannel(w http.ResponseWriter, r *http.Request) {
	data, ok := readBody(w, r)
	if !ok {
		return
	}
	cc, err := origin.ParseChannelConfig(data)
	if err != nil {
		writeError(w, err)
		return
	}
	id := r.PathValue("id")
	if cc.ID != "" && cc.ID != id {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("id %q in the body is not the path's %q", cc.ID, id)})
		return
	}
	cc.ID = id
	got, err := a.origin.UpdateChannel(r.Context(), cc)
	if err != nil {
		writeError(w, err)
		return
	}
	writeSettings(w, http.StatusOK, got)
}

func (a *API) deleteChannel(w http.ResponseWriter, r *http.Request) {
	if err := a.origin.RemoveChannel(r.Context(), r.PathValue("id")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) createEndpoint(w http.ResponseWriter, r *http.Request) {
	ec, ok := readEndpoint(w, r, "")
	if !ok {
		return
	}
	got, err := a.origin.ModifyChannel(r.Context(), r.PathValue("id"), func(cc origin.ChannelConfig) (origin.ChannelConfig, error) {
		if endpointIndex(cc, ec.ID) >= 0 {
			return cc, fmt.Errorf("%w: %q", errEndpointExists, ec.ID)
		}
		if len(cc.Endpoints) == 0 && ec.ID != "ts" {
			// The implicit endpoint stays first (and at the channel's
			// endpoint-less URL) as "ts".
			cc.Endpoints = append(cc.Endpoints, origin.EndpointConfig{ID: "ts"})
		}
		cc.Endpoints = append(cc.Endpoints, ec)
		return cc, nil
	})
	if err != nil {
		writeError(w, err)
		return
	}
	writeSettings(w, http.StatusCreated, got)
}

func (a *API) updateEndpoint(w http.ResponseWriter, r *http.Request) {
	epID := r.PathValue("endpoint")
	ec, ok := readEndpoint(w, r, epID)
	if !ok {
		return
	}
	got, err := a.origin.ModifyChannel(r.Context(), r.PathValue("id"), func(cc origin.ChannelConfig) (origin.ChannelConfig, error) {
		i := endpointIndex(cc, epID)
		if i < 0 {
			return cc, fmt.Errorf("%w: %q", errNoEndpoint, epID)
		}
		cc.Endpoints[i] = ec
		return cc, nil
	})
	if err != nil {
		writeError(w, err)
		return
	}
	writeSettings(w, http.StatusOK, got)
}

func (a *API) deleteEndpoint(w http.ResponseWriter, r *http.Request) {
	epID := r.PathValue("endpoint")
	got, err := a.origin.ModifyChannel(r.Context(), r.PathValue("id"), func(cc origin.ChannelConfig) (origin.ChannelConfig, error) {
		i := endpointIndex(cc, epID)
		if i < 0 {
			return cc, fmt.Errorf("%w: %q", errNoEndpoint, epID)
		}
		if len(cc.Endpoints) == 1 {
			return cc, errLastEndpoint
		}
		cc.Endpoints = slices.Delete(cc.Endpoints, i, i+1)
		return cc, nil
	})
	if err != nil {
		writeError(w, err)
		return
	}
	writeSettings(w, http.StatusOK, got)
}

// endpointIndex returns the index of endpoint id in cc, -1 if none.
func endpointIndex(cc origin.ChannelConfig, id string) int {
	return slices.IndexFunc(cc.Endpoints, func(e origin.EndpointConfig) bool { return e.ID == id })
}

// readEndpoint reads an endpoint body; id, when set, is the path's ID the
// body's must equal (or leave empty).
func readEndpoint(w http.ResponseWriter, r *http.Request, id string) (origin.EndpointConfig, bool) {
	data, ok := readBody(w, r)
	if !ok {
		return origin.EndpointConfig{}, false
	}
	ec, err := origin.ParseEndpointConfig(data)
	if err != nil {
		writeError(w, err)
		return ec, false
	}
	if id != "" {
		if ec.ID != "" && ec.ID != id {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("id %q in the body is not the path's %q", ec.ID, id)})
			return ec, false
		}
		ec.ID = id
	}
	return ec, true
}

// readBody reads a bounded request body; on failure it answers 400 or 413.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSettingsBody))
	if err != nil {
		code := http.StatusBadRequest
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			code = http.StatusRequestEntityTooLarge
		}
		writeJSON(w, code, map[string]string{"error": "read body: " + err.Error()})
		return nil, false
	}
	return data, true
}

// writeError answers err with the status its kind calls for.
func writeError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, origin.ErrNoChannel), errors.Is(err, errNoEndpoint):
		code = http.StatusNotFound
	case errors.Is(err, origin.ErrChannelExists), errors.Is(err, errEndpointExists):
		code = http.StatusConflict
	case errors.Is(err, origin.ErrConfig), errors.Is(err, errLastEndpoint):
		code = http.StatusBadRequest
	}
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

// writeSettings answers a channel's settings as JSON with the YAML keys
// (durations as "30s"), the form the requests take.
func writeSettings(w http.ResponseWriter, code int, cc origin.ChannelConfig) {
	y, err := yaml.Marshal(&cc)
	var v any
	if err == nil {
		err = yaml.Unmarshal(y, &v)
	}
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "encode settings: " + err.Error()})
		return
	}
	if _, err := json.Marshal(v); err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "encode settings: " + err.Error()})
		return
	}
	writeJSON(w, code, v)
}
