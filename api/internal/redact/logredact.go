package redact

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
)

// Redactor keeps secrets out of log lines, whoever writes them (the API,
// the service, the fetch engine, outputs): wrap the handler of the logger
// given to pullpush.New and api.New with Handler. It hides URL passwords
// and secret query values in the message and every attribute, and every
// secret value registered with Add (the API registers each fetcher's
// payload secrets and source URL secrets before starting it).
type Redactor struct {
	mu      sync.RWMutex
	secrets map[string]int // value -> number of fetchers using it
	index   *secretIndex   // every form (secretForms) of every value
}

// NewRedactor returns a Redactor with no registered values.
func NewRedactor() *Redactor {
	return &Redactor{secrets: make(map[string]int), index: newSecretIndex()}
}

// Add registers secret values; empty ones are ignored. It costs the
// length of the values, whatever the number already registered.
func (r *Redactor) Add(values ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range values {
		if v == "" {
			continue
		}
		if r.secrets[v]++; r.secrets[v] == 1 {
			for _, f := range secretForms(v) {
				r.index.add(f)
			}
		}
	}
}

// Remove unregisters values added once by Add.
func (r *Redactor) Remove(values ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range values {
		n, ok := r.secrets[v]
		if !ok {
			continue
		}
		if n > 1 {
			r.secrets[v] = n - 1
			continue
		}
		delete(r.secrets, v)
		for _, f := range secretForms(v) {
			r.index.remove(f)
		}
	}
}

var urlInText = regexp.MustCompile(`(?i)[a-z][a-z0-9+.-]*://[^\s"'<>` + "`" + `]+`)

// Redact returns s with registered secrets and URL secrets replaced by
// "***". Its cost depends on the length of s, not on the number of
// registered secrets.
func (r *Redactor) Redact(s string) string {
	if r == nil || s == "" {
		return s
	}
	// URLs first: scrubbing a short secret could break a URL apart so that
	// its query secrets were no longer recognised.
	s = RedactURLsIn(s)
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.index.replace(s, redacted)
}

// Handler wraps h so that every record passes through Redact.
func (r *Redactor) Handler(h slog.Handler) slog.Handler { return &redactHandler{r: r, next: h} }

type redactHandler struct {
	r    *Redactor
	next slog.Handler
}

func (h *redactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.Redact(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i] = h.attr(a)
	}
	return &redactHandler{r: h.r, next: h.next.WithAttrs(clean)}
}

func (h *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{r: h.r, next: h.next.WithGroup(name)}
}

// attr redacts strings, errors, Stringers and groups; other kinds
// (numbers, times, durations, bools) pass unchanged.
func (h *redactHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.r.Redact(v.String()))
	case slog.KindGroup:
		g := v.Group()
		clean := make([]any, len(g))
		for i, e := range g {
			clean[i] = h.attr(e)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, h.r.Redact(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, h.r.Redact(x.String()))
		case []byte:
			return slog.String(a.Key, h.r.Redact(string(x)))
		default:
			return slog.String(a.Key, h.r.Redact(fmt.Sprintf("%+v", x)))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
