package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/api/internal/redact"

	"github.com/pullpush/pullpush"
	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/store"
)

// idleTransport answers no source request: each one waits until its
// fetcher stops, so benchmarked fetchers sit idle instead of polling.
type idleTransport struct{}

func (idleTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	<-r.Context().Done()
	return nil, r.Context().Err()
}

// BenchmarkCreateFetcher measures POST /api/v1/fetcher with 1,000 fetchers
// already running (created beforehand, idle). Each created fetcher is
// deleted with the timer stopped, so every create sees 1,000 others. Logs
// go through the Redactor to a discarding text handler at Info, as in
// `pullpush serve`.
func BenchmarkCreateFetcher(b *testing.B) {
	const existing = 1000
	red := redact.NewRedactor()
	log := slog.New(red.Handler(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})))
	reg := output.NewRegistry()
	reg.Register(ingestFactory("test"))
	svc := pullpush.New(pullpush.Options{
		Logger: log, Outputs: reg, Client: &http.Client{Transport: idleTransport{}},
	})
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		svc.Close(ctx)
	})
	a := New(svc, Options{Logger: log, Redactor: red, Store: store.NewMemory()})
	ctx := context.Background()
	for i := range existing {
		name := fmt.Sprintf("existing-%d", i)
		var req CreateRequest
		if err := json.Unmarshal([]byte(fetcherBody(name)), &req); err != nil {
			b.Fatal(err)
		}
		def := store.Fetcher{ID: pullpush.NewID(), Name: name, URL: req.URL, Output: req.Output,
			Payload: req.Payload, Created: time.Now().UTC()}
		if err := a.store.PutFetcher(ctx, def); err != nil {
			b.Fatal(err)
		}
		if err := a.start(ctx, def); err != nil {
			b.Fatal(err)
		}
	}
	h := a.Handler()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		i++
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/api/v1/fetcher", strings.NewReader(fetcherBody(fmt.Sprintf("new-%d", i))))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			b.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
		var f struct {
			ID string `json:"fetcherId"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &f); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("DELETE", "/api/v1/fetcher/"+f.ID, nil))
		if rec.Code != http.StatusNoContent {
			b.Fatalf("delete: %d %s", rec.Code, rec.Body)
		}
		b.StartTimer()
	}
}
