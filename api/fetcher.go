package api

import (
	"github.com/pullpush/pullpush/api/internal/redact"
	"github.com/pullpush/pullpush/internal/buildinfo"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/pullpush/pullpush"
	"github.com/pullpush/pullpush/fetch"
	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/store"
)

// Fetcher is a fetcher as the API returns it: its definition, with the
// payload redacted, and its live status (state, last error, segments and
// bytes per target, last push, lag).
type Fetcher struct {
	pullpush.FetcherInfo
	// Dest repeats Output under the name hls-pull-push clients list.
	Dest string `json:"dest"`
	// Payload is the output payload with every secret replaced by "***";
	// absent for fetchers started outside the API.
	Payload json.RawMessage `json:"payload,omitempty"`
	// Instance is, in cluster mode, the instance running the fetcher
	// (empty while none holds it).
	Instance string `json:"instance,omitempty"`
}

// createResponse is the 201 body of POST /api/v1/fetcher: the fetcher plus
// the fields hls-pull-push answered with.
type createResponse struct {
	Message string `json:"message"`
	Fetcher
	RequestData CreateRequest `json:"requestData"` // the request as understood, secrets redacted
}

// outputInfo is one entry of GET /api/v1/outputs.
type outputInfo struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema"`  // JSON schema of the payload
	Secrets     []string        `json:"secrets"` // payload keys redacted in responses
}

func (a *API) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, buildinfo.Health("ok"))
}

func (a *API) handleOutputs(w http.ResponseWriter, r *http.Request) {
	list := []outputInfo{}
	for _, f := range a.svc.Outputs().List() {
		schema := f.Schema
		if len(schema) == 0 || !json.Valid(schema) {
			schema = json.RawMessage(`{"type":"object"}`)
		}
		secrets := f.Secrets
		if secrets == nil {
			secrets = []string{}
		}
		list = append(list, outputInfo{Name: f.Name, Description: f.Description, Schema: schema, Secrets: secrets})
	}
	writeJSON(w, http.StatusOK, list)
}

func (a *API) handleList(w http.ResponseWriter, r *http.Request) {
	if a.clustered() {
		list, err := a.clusterList(r.Context())
		if err != nil {
			a.log.Error("cannot list the cluster's fetchers", logKeyErr, err)
			writeError(w, http.StatusInternalServerError, "cannot read the fetcher definitions")
			return
		}
		writeJSON(w, http.StatusOK, list)
		return
	}
	writeJSON(w, http.StatusOK, a.list())
}

func (a *API) handleGet(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	f, ok := a.get(id)
	if a.clustered() {
		var err error
		f, ok, err = a.clusterGet(r.Context(), id)
		if err != nil {
			a.log.Error("cannot read fetcher definition", logKeyFetcher, id, logKeyErr, err)
			writeError(w, http.StatusInternalServerError, "cannot read the fetcher definition")
			return
		}
	}
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("fetcher %q not found", id))
		return
	}
	writeJSON(w, http.StatusOK, f)
}

func (a *API) handleCreate(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			writeError(w, http.StatusUnsupportedMediaType,
				fmt.Sprintf("unsupported Content-Type %q: send application/json (with curl: -H 'Content-Type: application/json')", ct))
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("request body larger than %d bytes", MaxBodyBytes))
			return
		}
		writeError(w, http.StatusBadRequest, "cannot read request body")
		return
	}
	req, err := DecodeCreateRequest(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	factory, ok := a.svc.Outputs().Lookup(req.Output)
	if !ok {
		var names []string
		for _, f := range a.svc.Outputs().List() {
			names = append(names, f.Name)
		}
		writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown output %q (registered: %s)", req.Output, strings.Join(names, ", ")))
		return
	}
	def := store.Fetcher{
		ID: pullpush.NewID(), Name: req.Name, URL: req.URL, Output: req.Output, Payload: req.Payload,
		WindowSize: req.WindowSize, Concurrency: req.Concurrency, Created: time.Now().UTC(),
	}
	// The request is complete once accepted: a client hanging up must not
	// leave a fetcher half created.
	ctx := context.WithoutCancel(r.Context())

	a.opMu.Lock()
	defer a.opMu.Unlock()
	taken, id := false, ""
	if a.clustered() {
		defs, err := a.store.Fetchers(ctx)
		if err != nil {
			a.log.Error("cannot list the cluster's fetchers", logKeyErr, err)
			writeError(w, http.StatusInternalServerError, "cannot read the fetcher definitions")
			return
		}
		for _, f := range defs {
			if f.Name == req.Name {
				taken, id = true, f.ID
				break
			}
		}
	} else {
		id, taken = a.nameTaken(req.Name)
	}
	if taken {
		writeJSON(w, http.StatusConflict, errorBody{
			Error:     fmt.Sprintf("a fetcher named %q already exists: delete it first or choose another name", req.Name),
			FetcherID: id,
		})
		return
	}
	payload := def.Payload
	if payload == nil {
		payload = json.RawMessage("{}")
	}
	out, err := factory.New(payload)
	if err != nil {
		msg := a.errorText(err, def)
		if errors.Is(err, output.ErrInvalidPayload) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid payload for output %q: %s", req.Output, msg))
		} else {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("output %q: %s", req.Output, msg))
		}
		return
	}
	// Stored before it starts, so a crash right after the 201 loses nothing
	// and the fetcher's progress has a definition to belong to.
	if err := a.store.PutFetcher(ctx, def); err != nil {
		out.Close()
		a.log.Error("cannot store fetcher", logKeyFetcher, def.ID, logKeyErr, a.errorText(err, def))
		writeError(w, http.StatusInternalServerError, "cannot store the fetcher definition")
		return
	}
	if a.clustered() {
		// Some instance of the cluster (maybe this one) claims and starts it.
		out.Close()
		f, _, _ := a.clusterGet(ctx, def.ID)
		a.created(w, def, req, factory, f,
			"Created a fetcher; an instance of the cluster claims it and starts pulling from the HLS live stream")
		return
	}
	if err := a.startWith(ctx, def, out); err != nil {
		if derr := a.store.DeleteFetcher(ctx, def.ID); derr != nil {
			a.log.Error("cannot remove definition of a fetcher that did not start",
				logKeyFetcher, def.ID, logKeyErr, a.errorText(derr, def))
		}
		status := statusFor(err)
		msg := a.errorText(err, def)
		if status == http.StatusInternalServerError {
			a.log.Error("cannot start fetcher", logKeyFetcher, def.ID, logKeyErr, msg)
			msg = "cannot start the fetcher"
		}
		writeError(w, status, msg)
		return
	}
	f, _ := a.get(def.ID)
	a.created(w, def, req, factory, f, "Created a fetcher and started pulling from the HLS live stream")
}

// created logs the creation of def and answers 201 with f and the request
// as understood, secrets redacted.
func (a *API) created(w http.ResponseWriter, def store.Fetcher, req CreateRequest, factory output.Factory, f Fetcher, msg string) {
	a.log.Info("fetcher created", logKeyFetcher, def.ID, logKeyName, def.Name,
		logKeyURL, redact.RedactURL(def.URL), logKeyOutput, def.Output)
	reqOut := req
	reqOut.URL = redact.RedactURL(req.URL)
	reqOut.Payload = redact.RedactPayload(req.Payload, factory.Secrets)
	writeJSON(w, http.StatusCreated, createResponse{Message: msg, Fetcher: f, RequestData: reqOut})
}

func (a *API) handleDelete(w http.ResponseWriter, r *http.Request) {
	if a.clustered() {
		a.clusterDelete(w, r)
		return
	}
	id := r.PathValue("id")
	ctx := context.WithoutCancel(r.Context())
	a.opMu.Lock()
	defer a.opMu.Unlock()
	a.mu.Lock()
	_, broken := a.broken[id]
	a.mu.Unlock()
	_, err := a.svc.Fetcher(id)
	running := err == nil
	if !running && !broken {
		writeError(w, http.StatusNotFound, fmt.Sprintf("fetcher %q not found", id))
		return
	}
	// Forget the definition first: progress the fetcher saves while it
	// drains is then discarded by the store.
	if err := a.store.DeleteFetcher(ctx, id); err != nil {
		a.log.Error("cannot delete fetcher definition", logKeyFetcher, id, logKeyErr, err)
		writeError(w, http.StatusInternalServerError, "cannot delete the fetcher definition")
		return
	}
	a.mu.Lock()
	a.forgetLocked(id)
	a.mu.Unlock()
	if running {
		stopCtx, cancel := context.WithTimeout(ctx, a.opts.StopTimeout)
		err := a.svc.StopFetcher(stopCtx, id)
		cancel()
		if err != nil && !errors.Is(err, pullpush.ErrNotFound) {
			a.log.Warn("fetcher did not finish its uploads in time", logKeyFetcher, id, logKeyErr, err)
		}
	}
	a.metrics.Remove(id)
	a.log.Info("fetcher deleted", logKeyFetcher, id)
	a.mu.Lock()
	secrets := a.logged[id]
	delete(a.logged, id)
	a.mu.Unlock()
	a.opts.Redactor.Remove(secrets...)
	w.WriteHeader(http.StatusNoContent)
}

// startWith starts def with the already built output out. Its secrets are
// registered with the Redactor first, so the fetcher's own log lines never
// show them.
func (a *API) startWith(ctx context.Context, def store.Fetcher, out output.Output) error {
	secrets := append(redact.SecretValues(def.Payload, a.secretsOf(def.Output)), redact.URLSecrets(def.URL)...)
	a.opts.Redactor.Add(secrets...)
	_, err := a.svc.StartFetcher(ctx, pullpush.FetcherSpec{
		ID: def.ID, Name: def.Name, URL: def.URL, Output: out, OutputName: def.Output,
		WindowSize:  time.Duration(def.WindowSize * float64(time.Second)),
		Concurrency: def.Concurrency, Created: def.Created,
	})
	if err != nil {
		out.Close()
		a.opts.Redactor.Remove(secrets...)
		return err
	}
	a.mu.Lock()
	a.defs[def.ID] = def
	a.addNameLocked(def.Name, def.ID)
	a.logged[def.ID] = secrets
	a.mu.Unlock()
	return nil
}

// nameTaken returns the id of the fetcher called name, if any, among the
// fetchers the API created, restored or could not restore. It costs the
// same whatever their number (a fetcher started on the Service directly,
// outside the API, does not reserve its name).
func (a *API) nameTaken(name string) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ids := a.names[name]; len(ids) > 0 {
		return ids[0], true
	}
	return "", false
}

// addNameLocked records that fetcher id is called name. a.mu is held.
func (a *API) addNameLocked(name, id string) {
	if !slices.Contains(a.names[name], id) {
		a.names[name] = append(a.names[name], id)
	}
}

// setBrokenLocked lists def as failed with msg. a.mu is held.
func (a *API) setBrokenLocked(def store.Fetcher, msg string) {
	a.broken[def.ID] = brokenFetcher{def: def, err: msg, at: time.Now().UTC()}
	a.addNameLocked(def.Name, def.ID)
}

// forgetLocked drops fetcher id from defs, broken and the name index.
// a.mu is held.
func (a *API) forgetLocked(id string) {
	d, inDefs := a.defs[id]
	b, inBroken := a.broken[id]
	delete(a.defs, id)
	delete(a.broken, id)
	if inDefs {
		a.dropNameLocked(d.Name, id)
	}
	if inBroken {
		a.dropNameLocked(b.def.Name, id)
	}
}

// forgetBrokenLocked drops fetcher id from broken, and from the name index
// unless defs still holds it. a.mu is held.
func (a *API) forgetBrokenLocked(id string) {
	if b, ok := a.broken[id]; ok {
		delete(a.broken, id)
		a.dropNameLocked(b.def.Name, id)
	}
}

// dropNameLocked removes id from the ids called name, unless defs or
// broken still lists id under that name. a.mu is held.
func (a *API) dropNameLocked(name, id string) {
	if d, ok := a.defs[id]; ok && d.Name == name {
		return
	}
	if b, ok := a.broken[id]; ok && b.def.Name == name {
		return
	}
	ids := slices.DeleteFunc(a.names[name], func(x string) bool { return x == id })
	if len(ids) == 0 {
		delete(a.names, name)
	} else {
		a.names[name] = ids
	}
}

// get returns one fetcher as the API shows it.
func (a *API) get(id string) (Fetcher, bool) {
	if info, err := a.svc.Fetcher(id); err == nil {
		return a.present(info), true
	}
	a.mu.Lock()
	b, ok := a.broken[id]
	a.mu.Unlock()
	if !ok {
		return Fetcher{}, false
	}
	return a.presentBroken(b), true
}

// list returns every fetcher, running or not, oldest first.
func (a *API) list() []Fetcher {
	infos := a.svc.Fetchers()
	out := make([]Fetcher, 0, len(infos))
	seen := make(map[string]bool, len(infos))
	for _, info := range infos {
		seen[info.ID] = true
		out = append(out, a.present(info))
	}
	a.mu.Lock()
	var broken []brokenFetcher
	for id, b := range a.broken {
		if !seen[id] {
			broken = append(broken, b)
		}
	}
	a.mu.Unlock()
	for _, b := range broken {
		out = append(out, a.presentBroken(b))
	}
	slices.SortStableFunc(out, func(x, y Fetcher) int {
		if c := x.Created.Compare(y.Created); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	return out
}

// present shows a fetcher of the service: info redacted, with the stored
// payload (redacted) when the API knows its definition.
func (a *API) present(info pullpush.FetcherInfo) Fetcher {
	a.mu.Lock()
	def, ok := a.defs[info.ID]
	a.mu.Unlock()
	if !ok {
		return a.presentInfo(info, nil)
	}
	return a.presentInfo(info, &def)
}

// presentBroken shows a stored definition that could not be started.
func (a *API) presentBroken(b brokenFetcher) Fetcher {
	return a.presentDef(b.def, fetch.Status{State: fetch.StateFailed, LastError: b.err, LastErrorAt: b.at})
}

// presentDef shows the definition def with status st (of a fetcher that
// does not run here, or could not start), redacted like a running one.
func (a *API) presentDef(def store.Fetcher, st fetch.Status) Fetcher {
	window := def.WindowSize
	if window == 0 {
		window = fetch.DefaultWindow.Seconds()
	}
	conc := def.Concurrency
	if conc == 0 {
		conc = fetch.DefaultConcurrency
	}
	return a.presentInfo(pullpush.FetcherInfo{
		ID: def.ID, Name: def.Name, URL: def.URL, Output: def.Output,
		WindowSize: window, Concurrency: conc, Created: def.Created, Status: st,
	}, &def)
}

// presentInfo is the one place a fetcher becomes what the API returns: the
// URLs in info redacted, its errors scrubbed of URL secrets and of def's
// secrets, and, when def is not nil, def's payload with its secrets
// replaced by "***". Nil status lists become empty ones.
func (a *API) presentInfo(info pullpush.FetcherInfo, def *store.Fetcher) Fetcher {
	f := Fetcher{FetcherInfo: info, Dest: info.Output}
	var secrets []string
	if def != nil {
		keys := a.secretsOf(def.Output)
		f.Payload = redact.RedactPayload(def.Payload, keys)
		secrets = append(redact.SecretValues(def.Payload, keys), redact.SecretValues(jsonString(def.URL), nil)...)
	}
	f.URL = redact.RedactURL(info.URL)
	clean := func(s string) string {
		if s == "" {
			return s
		}
		return redact.Scrub(redact.RedactURLsIn(s), secrets)
	}
	f.LastError = clean(f.LastError)
	f.Renditions = slices.Clone(f.Renditions)
	for i := range f.Renditions {
		f.Renditions[i].URI = redact.RedactURL(f.Renditions[i].URI)
	}
	f.Targets = slices.Clone(f.Targets)
	for i := range f.Targets {
		f.Targets[i].LastError = clean(f.Targets[i].LastError)
	}
	if f.Renditions == nil {
		f.Renditions = []fetch.RenditionStatus{}
	}
	if f.Targets == nil {
		f.Targets = []fetch.TargetStatus{}
	}
	return f
}
