package redact

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestRedactorHandler(t *testing.T) {
	var buf bytes.Buffer
	r := NewRedactor()
	log := slog.New(r.Handler(slog.NewJSONHandler(&buf, nil)))
	r.Add("hunter2", "hunter2", "s3kr1t")
	log = log.With("url", "https://u:pw@host/x.m3u8?token=abc", "n", 5)
	log.WithGroup("g").Info("using hunter2", "err", errors.New("auth hunter2 failed at http://u:pw2@h/"), "ok", "plain")
	log.Info("x", "v", "s3kr1t")
	out := buf.String()
	for _, bad := range []string{"hunter2", ":pw@", "pw2", "abc", "s3kr1t"} {
		if strings.Contains(out, bad) {
			t.Errorf("%q in %s", bad, out)
		}
	}
	for _, want := range []string{`"n":5`, `"ok":"plain"`, `"msg":"using ***"`, `u:***@host`, `token=***`} {
		if !strings.Contains(out, want) {
			t.Errorf("%q missing from %s", want, out)
		}
	}
	// Added twice, removed once: still redacted; removed again: no longer.
	r.Remove("hunter2")
	if got := r.Redact("hunter2"); got != "***" {
		t.Errorf("after one Remove: %q", got)
	}
	r.Remove("hunter2")
	if got := r.Redact("hunter2"); got != "hunter2" {
		t.Errorf("after both Removes: %q", got)
	}
	var nilR *Redactor
	if nilR.Redact("x") != "x" {
		t.Error("nil Redactor changed text")
	}
}
