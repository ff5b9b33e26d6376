package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/pullpush/pullpush"
	"github.com/pullpush/pullpush/fetch"
	"github.com/pullpush/pullpush/store"
)

// Cluster is the cluster an instance belongs to in `pullpush serve
// --cluster`; cluster.Node implements it.
//
// With Options.Cluster set, Options.Store is the cluster's shared store and
// the API works on the whole cluster: create stores the definition and
// leaves the start to the cluster, which claims each fetcher on one
// instance and starts it there with StartLocal; list and get show every
// stored fetcher with the instance running it (status counters of fetchers
// on other instances are the ones their owner last published); delete
// removes the definition on any instance and its owner stops it. Restore
// does nothing.
type Cluster interface {
	// Instance names this instance.
	Instance() string
	// Placement returns the instance holding fetcher id ("" while none
	// does) and, for another instance, the status it last published (nil
	// when none yet).
	Placement(id string) (instance string, status *fetch.Status)
}

// StartLocal starts the stored definition def on this instance; a cluster
// calls it for every fetcher it claims. A definition that cannot be started
// is listed as failed with its error (as after Restore), and the error
// (secrets scrubbed) is returned.
func (a *API) StartLocal(ctx context.Context, def store.Fetcher) error {
	a.mu.Lock()
	a.forgetBrokenLocked(def.ID)
	a.mu.Unlock()
	if err := a.start(ctx, def); err != nil {
		msg := a.errorText(err, def)
		a.mu.Lock()
		a.setBrokenLocked(def, "start: "+msg)
		a.mu.Unlock()
		return errors.New(msg)
	}
	return nil
}

// StopLocal stops fetcher id on this instance, letting in-flight uploads
// finish and the last progress be saved until ctx ends, and forgets it
// here; the stored definition stays. A fetcher not running here is not an
// error.
func (a *API) StopLocal(ctx context.Context, id string) error {
	err := a.svc.StopFetcher(ctx, id)
	a.mu.Lock()
	a.forgetLocked(id)
	secrets := a.logged[id]
	delete(a.logged, id)
	a.mu.Unlock()
	a.metrics.Remove(id)
	a.opts.Redactor.Remove(secrets...)
	if errors.Is(err, pullpush.ErrNotFound) {
		return nil
	}
	return err
}

// LocalStatus returns the status of fetcher id on this instance as the API
// shows it (secrets redacted).
func (a *API) LocalStatus(id string) (fetch.Status, bool) {
	f, ok := a.get(id)
	if !ok {
		return fetch.Status{}, false
	}
	return f.Status, true
}

// clustered reports cluster mode.
func (a *API) clustered() bool { return a.opts.Cluster != nil }

// clusterGet returns one fetcher of the cluster.
func (a *API) clusterGet(ctx context.Context, id string) (Fetcher, bool, error) {
	if f, ok := a.get(id); ok {
		f.Instance = a.opts.Cluster.Instance()
		return f, true, nil
	}
	def, err := a.store.GetFetcher(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Fetcher{}, false, nil
	}
	if err != nil {
		return Fetcher{}, false, err
	}
	return a.presentRemote(def), true, nil
}

// clusterList returns every fetcher of the cluster, oldest first.
func (a *API) clusterList(ctx context.Context) ([]Fetcher, error) {
	defs, err := a.store.Fetchers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Fetcher, 0, len(defs))
	for _, def := range defs {
		if f, ok := a.get(def.ID); ok {
			f.Instance = a.opts.Cluster.Instance()
			out = append(out, f)
			continue
		}
		out = append(out, a.presentRemote(def))
	}
	return out, nil
}

// presentRemote shows a stored fetcher that does not run here: the status
// its owner published, or "starting" while it is being claimed.
func (a *API) presentRemote(def store.Fetcher) Fetcher {
	instance, st := a.opts.Cluster.Placement(def.ID)
	status := fetch.Status{State: fetch.StateStarting}
	if st != nil {
		status = *st
	}
	f := a.presentDef(def, status)
	f.Instance = instance
	return f
}

// clusterDelete removes a definition from the shared store; when the
// fetcher runs here it is stopped before the answer, otherwise its owner
// sees the delete and stops it.
func (a *API) clusterDelete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ctx := context.WithoutCancel(r.Context())
	a.opMu.Lock()
	defer a.opMu.Unlock()
	_, local := a.get(id)
	_, err := a.store.GetFetcher(ctx, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		a.log.Error("cannot read fetcher definition", logKeyFetcher, id, logKeyErr, err)
		writeError(w, http.StatusInternalServerError, "cannot read the fetcher definition")
		return
	}
	if errors.Is(err, store.ErrNotFound) && !local {
		writeError(w, http.StatusNotFound, fmt.Sprintf("fetcher %q not found", id))
		return
	}
	if err := a.store.DeleteFetcher(ctx, id); err != nil {
		a.log.Error("cannot delete fetcher definition", logKeyFetcher, id, logKeyErr, err)
		writeError(w, http.StatusInternalServerError, "cannot delete the fetcher definition")
		return
	}
	if local {
		stopCtx, cancel := context.WithTimeout(ctx, a.opts.StopTimeout)
		if err := a.StopLocal(stopCtx, id); err != nil {
			a.log.Warn("fetcher did not finish its uploads in time", logKeyFetcher, id, logKeyErr, err)
		}
		cancel()
	}
	a.log.Info("fetcher deleted", logKeyFetcher, id)
	w.WriteHeader(http.StatusNoContent)
}
