package origin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/pullpush/pullpush/internal/buildinfo"
)

// Ready reports whether the origin can serve: its index is loaded (true
// once New returned) and its storage is reachable, the data directory of
// every channel or, on shared storage, the bucket.
func (o *Origin) Ready(ctx context.Context) error {
	if o.shared != nil {
		if checker, ok := o.shared.blob.(interface{ CheckBucket(context.Context) error }); ok {
			if err := checker.CheckBucket(ctx); err != nil {
				return fmt.Errorf("storage: %w", err)
			}
		}
		return nil
	}
	for _, ch := range o.list() {
		st, err := os.Stat(ch.dir)
		if err != nil {
			return fmt.Errorf("storage: %w", err)
		}
		if !st.IsDir() {
			return fmt.Errorf("storage: %s is not a directory", ch.dir)
		}
	}
	return nil
}

// healthTimeout bounds the storage check of one /health request.
const healthTimeout = 5 * time.Second

// HealthHandler answers GET /health: 200 {"status":"ok"} when Ready, else
// 503 {"status":"unavailable","error":...}.
func (o *Origin) HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if err := o.Ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			h := buildinfo.Health("unavailable")
			h["error"] = err.Error()
			json.NewEncoder(w).Encode(h)
			return
		}
		json.NewEncoder(w).Encode(buildinfo.Health("ok"))
	})
}
