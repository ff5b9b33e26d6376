package channel

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/pullpush/pullpush/internal/bearer"
)

// maxScheduleBody bounds the body of a schedule request.
const maxScheduleBody = 1 << 20

// ScheduleHandler serves the schedule API of the configured channels:
//
//	GET    /api/v1/channels/{id}/schedule         the schedule: items with start, end, state; what plays now
//	POST   /api/v1/channels/{id}/schedule         append items: body {"items":[ItemSpec...]}
//	PUT    /api/v1/channels/{id}/schedule         replace the upcoming items with the body's
//	DELETE /api/v1/channels/{id}/schedule/{item}  delete an upcoming item
//	POST   /api/v1/channels/{id}/switch           switch to a live source now: body SwitchSpec ({"url":...,"duration":...}), or back ({"to":"vod"})
//	DELETE /api/v1/channels/{id}/switch           switch back from the live item that plays now
//
// Every answer is JSON; errors are {"error":"..."}: 400 for bad input, 401
// without the token, 404 for an unknown channel or item (or an engine
// without WithScheduleDir), 409 for an item that has started (or a switch back when no live item plays), 412 when an
// If-Match header does not name the current version (the ETag of GET).
// When token is not empty every request needs "Authorization: Bearer
// <token>".
func (e *Engine) ScheduleHandler(token string) http.Handler {
	mux := http.NewServeMux()
	const p = "/api/v1/channels/{id}/schedule"
	mux.HandleFunc("GET "+p, func(w http.ResponseWriter, r *http.Request) {
		s, err := e.Schedule(r.PathValue("id"))
		e.answerSchedule(w, http.StatusOK, s, err)
	})
	mux.HandleFunc("POST "+p, func(w http.ResponseWriter, r *http.Request) {
		specs, ok := decodeItems(w, r)
		if ok {
			s, err := e.AppendSchedule(r.PathValue("id"), r.Header.Get("If-Match"), specs)
			e.answerSchedule(w, http.StatusCreated, s, err)
		}
	})
	mux.HandleFunc("PUT "+p, func(w http.ResponseWriter, r *http.Request) {
		specs, ok := decodeItems(w, r)
		if ok {
			s, err := e.ReplaceSchedule(r.PathValue("id"), r.Header.Get("If-Match"), specs)
			e.answerSchedule(w, http.StatusOK, s, err)
		}
	})
	mux.HandleFunc("DELETE "+p+"/{item}", func(w http.ResponseWriter, r *http.Request) {
		s, err := e.DeleteScheduleItem(r.PathValue("id"), r.Header.Get("If-Match"), r.PathValue("item"))
		e.answerSchedule(w, http.StatusOK, s, err)
	})
	mux.HandleFunc("POST /api/v1/channels/{id}/switch", e.serveSwitch)
	mux.HandleFunc("DELETE /api/v1/channels/{id}/switch", e.serveSwitchBack)
	mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, errors.New("not found: "+r.Method+" "+r.URL.Path))
	})
	return bearer.Handler(token, "pullpush", mux)
}

func decodeItems(w http.ResponseWriter, r *http.Request) ([]ItemSpec, bool) {
	var body struct {
		Items []ItemSpec `json:"items"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxScheduleBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, errors.New("schedule: invalid JSON body: "+err.Error()))
		return nil, false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, errors.New("schedule: invalid JSON body: more than one value"))
		return nil, false
	}
	return body.Items, true
}

func (e *Engine) answerSchedule(w http.ResponseWriter, status int, s Schedule, err error) {
	if err != nil {
		writeError(w, scheduleStatus(err), err)
		return
	}
	w.Header().Set("ETag", s.Version)
	writeJSON(w, status, s)
}
