package harvest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/pullpush/pullpush/origin"
)

// maxRequestBytes bounds a POST /api/v1/harvest body.
const maxRequestBytes = 64 << 10

// wireRequest is the JSON body of POST /api/v1/harvest: times as ISO 8601
// or epoch seconds, as the origin's ?start= and ?end= take them.
type wireRequest struct {
	Channel     string      `json:"channel"`
	Endpoint    string      `json:"endpoint"`
	Start       string      `json:"start"`
	End         string      `json:"end"`
	Destination Destination `json:"destination"`
}

// Handler serves the jobs API (put it behind the API token):
//
//	POST /api/v1/harvest       submit {channel, endpoint, start, end, destination} -> 202 job
//	GET  /api/v1/harvest       every job, newest first
//	GET  /api/v1/harvest/{id}  one job: state, reason, progress, files, bytes
func (m *Manager) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/harvest", m.serveSubmit)
	mux.HandleFunc("GET /api/v1/harvest", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"jobs": m.Jobs()})
	})
	mux.HandleFunc("GET /api/v1/harvest/{id}", func(w http.ResponseWriter, r *http.Request) {
		j, ok := m.Job(r.PathValue("id"))
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such harvest job"})
			return
		}
		writeJSON(w, http.StatusOK, j)
	})
	return mux
}

func (m *Manager) serveSubmit(w http.ResponseWriter, r *http.Request) {
	req, err := decodeRequest(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	j, err := m.Submit(r.Context(), req)
	switch {
	case errors.Is(err, ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		return
	case err != nil:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	w.Header().Set("Location", "/api/v1/harvest/"+j.ID)
	writeJSON(w, http.StatusAccepted, j)
}

// decodeRequest parses a submit body strictly: unknown keys are refused.
func decodeRequest(body io.Reader) (Request, error) {
	data, err := io.ReadAll(body)
	if err != nil {
		return Request{}, fmt.Errorf("read body: %w", err)
	}
	if len(data) > maxRequestBytes {
		return Request{}, fmt.Errorf("body larger than %d bytes", maxRequestBytes)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	var wr wireRequest
	if err := dec.Decode(&wr); err != nil {
		return Request{}, fmt.Errorf("invalid JSON body: %w", err)
	}
	if dec.More() {
		return Request{}, errors.New("invalid JSON body: more than one value")
	}
	req := Request{Channel: wr.Channel, Endpoint: wr.Endpoint, Destination: wr.Destination}
	if req.Start, err = origin.ParseTimeParam(wr.Start); err != nil {
		return Request{}, fmt.Errorf("start: %w", err)
	}
	if req.End, err = origin.ParseTimeParam(wr.End); err != nil {
		return Request{}, fmt.Errorf("end: %w", err)
	}
	return req, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
