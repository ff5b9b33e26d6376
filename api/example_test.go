package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/pullpush/pullpush"
	"github.com/pullpush/pullpush/api"
	"github.com/pullpush/pullpush/metrics"
	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/output/outputs"
	"github.com/pullpush/pullpush/store"
)

// Wire a service, its store, metrics and log redaction the way
// `pullpush serve` does, and mount the API in a bigger mux.
func Example() {
	dir, _ := os.MkdirTemp("", "pullpush-example")
	defer os.RemoveAll(dir)
	st, err := store.OpenBolt(dir)
	if err != nil {
		panic(err)
	}
	defer st.Close()

	red := api.NewRedactor()
	log := slog.New(red.Handler(slog.NewTextHandler(io.Discard, nil)))
	m := metrics.New()
	reg := output.NewRegistry()
	outputs.Register(reg)
	svc := pullpush.New(pullpush.Options{Logger: log, Progress: st, Observer: m, Outputs: reg})
	a := api.New(svc, api.Options{Store: st, Logger: log, Metrics: m, Redactor: red, Token: "secret-token"})
	if _, err := a.Restore(context.Background()); err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.Handle("/api/", a.Handler())
	mux.Handle("/health", a.Handler())
	mux.Handle("/metrics", a.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, _ := http.Get(srv.URL + "/api/v1/fetcher")
	fmt.Println(resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	resp.Body.Close()
	resp, _ = http.Get(srv.URL + "/health")
	var health struct{ Status string }
	json.NewDecoder(resp.Body).Decode(&health)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, health.Status)
	// Output:
	// 401 Bearer realm="pullpush"
	// 200 ok
}
