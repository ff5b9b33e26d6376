package chaos

import (
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// profileCases drive TestParseProfile and seed FuzzProfile. want is nil when
// err is set.
var profileCases = []struct {
	name string
	in   string
	want []Rule
	err  string
}{
	{
		name: "every key",
		in: `{"name": "all", "rules": [
			{"name": "a", "fault": "status", "status": 502, "methods": ["get", "HEAD"], "path": "*.ts", "probability": 0.25, "count": 3, "after": "1s", "for": "2m"},
			{"fault": "delay", "delay": "150ms", "regexp": "^/live/"},
			{"fault": "timeout"},
			{"fault": "hang", "delay": "5s"},
			{"fault": "reset", "probability": 1},
			{"fault": "truncate", "bytes": 0},
			{"fault": "truncate", "percent": 50},
			{"fault": "stale", "path": "/live/*/index.m3u8", "for": "10s"},
			{"fault": "reset-sequence", "sequence": 7},
			{"fault": "skip", "segments": 3, "count": 1}
		]}`,
		want: []Rule{
			{Name: "a", Fault: FaultStatus, Status: 502, Methods: []string{"GET", "HEAD"}, Path: "*.ts", Probability: 0.25, Count: 3, After: time.Second, For: 2 * time.Minute},
			{Fault: FaultDelay, Delay: 150 * time.Millisecond, Regexp: "^/live/"},
			{Fault: FaultHang},
			{Fault: FaultHang, Delay: 5 * time.Second},
			{Fault: FaultReset, Probability: 1},
			{Fault: FaultTruncate},
			{Fault: FaultTruncate, Percent: 50},
			{Fault: FaultStale, Path: "/live/*/index.m3u8", For: 10 * time.Second},
			{Fault: FaultResetSequence, Sequence: 7},
			{Fault: FaultSkip, Segments: 3, Count: 1},
		},
	},
	{name: "empty", in: `{}`, want: []Rule{}},
	{name: "null durations are absent", in: `{"rules": [{"fault": "reset", "after": null}]}`, want: []Rule{{Fault: FaultReset}}},
	{name: "unknown key", in: `{"rules": [{"fault": "reset", "probabilty": 0.5}]}`, err: `decode: json: unknown field "probabilty"`},
	{name: "unknown top-level key", in: `{"rule": []}`, err: `decode: json: unknown field "rule"`},
	{name: "trailing data", in: `{"rules": []} {}`, err: "decode: unexpected data after the profile object"},
	{name: "not json", in: `rules: []`, err: "decode: invalid character 'r' looking for beginning of value"},
	{name: "wrong type", in: `{"rules": [{"fault": "status", "status": "503"}]}`, err: "decode: json: cannot unmarshal string into Go struct field ruleJSON.rules.status of type int"},
	{name: "missing fault", in: `{"rules": [{"path": "*.ts"}]}`, err: "rules[0].fault: missing (want one of status, delay, hang, timeout, reset, truncate, stale, reset-sequence, skip)"},
	{name: "unknown fault", in: `{"rules": [{"fault": "explode"}]}`, err: `rules[0].fault: unknown fault "explode" (want one of status, delay, hang, timeout, reset, truncate, stale, reset-sequence, skip)`},
	{name: "probability too high", in: `{"rules": [{"fault": "reset"}, {"fault": "reset", "probability": 2}]}`, err: "rules[1].probability: must be greater than 0 and at most 1, got 2"},
	{name: "probability zero", in: `{"rules": [{"fault": "reset", "probability": 0}]}`, err: "rules[0].probability: must be greater than 0 and at most 1, got 0"},
	{name: "count zero", in: `{"rules": [{"fault": "reset", "count": 0}]}`, err: "rules[0].count: must be at least 1, got 0"},
	{name: "status out of range", in: `{"rules": [{"fault": "status", "status": 200}]}`, err: "rules[0].status: must be between 400 and 599, got 200"},
	{name: "status for delay", in: `{"rules": [{"fault": "delay", "delay": "1s", "status": 503}]}`, err: `rules[0].status: not valid for fault "delay"`},
	{name: "delay missing", in: `{"rules": [{"fault": "delay"}]}`, err: `rules[0].delay: required for fault "delay"`},
	{name: "delay as number", in: `{"rules": [{"fault": "delay", "delay": 2}]}`, err: `rules[0].delay: must be a duration string such as "2s", got 2`},
	{name: "delay bad string", in: `{"rules": [{"fault": "delay", "delay": "2 seconds"}]}`, err: `rules[0].delay: invalid duration "2 seconds"`},
	{name: "delay zero", in: `{"rules": [{"fault": "delay", "delay": "0s"}]}`, err: `rules[0].delay: must be positive, got "0s"`},
	{name: "negative after", in: `{"rules": [{"fault": "reset", "after": "-1s"}]}`, err: `rules[0].after: must not be negative, got "-1s"`},
	{name: "zero for", in: `{"rules": [{"fault": "reset", "for": "0s"}]}`, err: `rules[0].for: must be positive, got "0s"`},
	{name: "bytes and percent", in: `{"rules": [{"fault": "truncate", "bytes": 10, "percent": 5}]}`, err: "rules[0].bytes: mutually exclusive with percent"},
	{name: "percent 100", in: `{"rules": [{"fault": "truncate", "percent": 100}]}`, err: "rules[0].percent: must be at least 0 and below 100, got 100"},
	{name: "negative bytes", in: `{"rules": [{"fault": "truncate", "bytes": -1}]}`, err: "rules[0].bytes: must not be negative, got -1"},
	{name: "segments zero", in: `{"rules": [{"fault": "skip", "segments": 0}]}`, err: "rules[0].segments: must be at least 1, got 0"},
	{name: "sequence for skip", in: `{"rules": [{"fault": "skip", "sequence": 1}]}`, err: `rules[0].sequence: not valid for fault "skip"`},
	{name: "bad glob", in: `{"rules": [{"fault": "reset", "path": "[a-"}]}`, err: `rules[0].path: invalid glob "[a-": syntax error in pattern`},
	{name: "bad regexp", in: `{"rules": [{"fault": "reset", "regexp": "("}]}`, err: "rules[0].regexp: invalid: error parsing regexp: missing closing ): `(`"},
	{name: "path and regexp", in: `{"rules": [{"fault": "reset", "path": "*", "regexp": "x"}]}`, err: "rules[0].path: mutually exclusive with regexp"},
	{name: "bad method", in: `{"rules": [{"fault": "reset", "methods": ["GET", "P UT"]}]}`, err: `rules[0].methods[1]: invalid method "P UT" (want an upper-case token such as GET)`},
}

func TestParseProfile(t *testing.T) {
	for _, tc := range profileCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseProfile([]byte(tc.in))
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error = %v\nwant    %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseProfile: %v", err)
			}
			if !reflect.DeepEqual(p.Rules, tc.want) {
				t.Fatalf("rules =\n%+v\nwant\n%+v", p.Rules, tc.want)
			}
		})
	}
}

func TestBuiltinProfile(t *testing.T) {
	get := []string{"GET"}
	cases := []struct {
		spec string
		want []Rule
		err  string
	}{
		{spec: "flaky-source", want: []Rule{
			{Name: "flaky-source/503", Fault: FaultStatus, Methods: get, Status: 503, Probability: 0.10},
			{Name: "flaky-source/truncate", Fault: FaultTruncate, Methods: get, Percent: 50, Probability: 0.05},
			{Name: "flaky-source/delay", Fault: FaultDelay, Methods: get, Delay: 2 * time.Second, Probability: 0.05},
		}},
		{spec: "dead-dest", want: []Rule{{Name: "dead-dest", Fault: FaultStatus, Methods: []string{"PUT"}, Status: 503}}},
		{spec: "outage", want: []Rule{{Name: "outage", Fault: FaultStatus, Status: 503, For: 30 * time.Second}}},
		{spec: "outage:30s", want: []Rule{{Name: "outage", Fault: FaultStatus, Status: 503, For: 30 * time.Second}}},
		{spec: "outage:1m30s+resets:0.05", want: []Rule{
			{Name: "outage", Fault: FaultStatus, Status: 503, For: 90 * time.Second},
			{Name: "resets", Fault: FaultReset, Probability: 0.05},
		}},
		{spec: "resets", want: []Rule{{Name: "resets", Fault: FaultReset, Probability: 0.1}}},
		{spec: "hangs:1", want: []Rule{{Name: "hangs", Fault: FaultHang, Probability: 1}}},
		{spec: "slow:500ms", want: []Rule{{Name: "slow", Fault: FaultDelay, Delay: 500 * time.Millisecond}}},
		{spec: "", err: "empty profile name"},
		{spec: "outage:", err: `profile outage: invalid duration "" (want e.g. 30s)`},
		{spec: "outage:-5s", err: `profile outage: invalid duration "-5s" (want e.g. 30s)`},
		{spec: "resets:1.5", err: `profile resets: invalid probability "1.5" (want a number in (0,1])`},
		{spec: "dead-dest:1", err: `profile "dead-dest" takes no parameter`},
		{spec: "flaky", err: `unknown built-in profile "flaky" (want flaky-source, dead-dest, outage[:DURATION], resets[:P], slow[:DURATION], hangs[:P] or a .json file)`},
		{spec: "dead-dest+", err: `unknown built-in profile "" (want flaky-source, dead-dest, outage[:DURATION], resets[:P], slow[:DURATION], hangs[:P] or a .json file)`},
	}
	for _, tc := range cases {
		t.Run(tc.spec, func(t *testing.T) {
			p, err := BuiltinProfile(tc.spec)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error = %v\nwant    %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("BuiltinProfile: %v", err)
			}
			if !reflect.DeepEqual(p.Rules, tc.want) {
				t.Fatalf("rules =\n%+v\nwant\n%+v", p.Rules, tc.want)
			}
			px := New(&url.URL{Scheme: "http", Host: "127.0.0.1:1"})
			defer px.Close()
			if err := px.SetRules(p.Rules); err != nil {
				t.Fatalf("SetRules(built-in): %v", err)
			}
		})
	}
}

func TestLoadProfile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "p.json")
	if err := os.WriteFile(file, []byte(`{"rules": [{"fault": "reset", "count": 2}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := LoadProfile(file)
	if err != nil {
		t.Fatalf("LoadProfile(file): %v", err)
	}
	if p.Name != "p.json" || !reflect.DeepEqual(p.Rules, []Rule{{Fault: FaultReset, Count: 2}}) {
		t.Fatalf("LoadProfile(file) = %+v", p)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"rules": [{"fault": "nope"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadProfile(bad); err == nil || !strings.HasPrefix(err.Error(), "profile "+bad+": rules[0].fault: unknown fault") {
		t.Fatalf("LoadProfile(bad) error = %v", err)
	}
	if _, err := LoadProfile(filepath.Join(dir, "missing.json")); err == nil || !strings.HasPrefix(err.Error(), "read profile: open ") {
		t.Fatalf("LoadProfile(missing) error = %v", err)
	}
	if p, err := LoadProfile("dead-dest"); err != nil || p.Name != "dead-dest" || len(p.Rules) != 1 {
		t.Fatalf("LoadProfile(dead-dest) = %+v, %v", p, err)
	}
}

func TestSetRulesValidates(t *testing.T) {
	p := New(&url.URL{Scheme: "http", Host: "127.0.0.1:1"})
	defer p.Close()
	cases := []struct {
		rule Rule
		err  string
	}{
		{Rule{}, "rules[1].fault: missing (want one of status, delay, hang, timeout, reset, truncate, stale, reset-sequence, skip)"},
		{Rule{Fault: "boom"}, `rules[1].fault: unknown fault "boom" (want one of status, delay, hang, timeout, reset, truncate, stale, reset-sequence, skip)`},
		{Rule{Fault: FaultReset, Probability: -0.1}, "rules[1].probability: must be between 0 and 1, got -0.1"},
		{Rule{Fault: FaultReset, Count: -1}, "rules[1].count: must not be negative, got -1"},
		{Rule{Fault: FaultReset, Methods: []string{"get"}}, `rules[1].methods[0]: invalid method "get" (want an upper-case token such as GET)`},
		{Rule{Fault: FaultStatus, Status: 302}, "rules[1].status: must be between 400 and 599, got 302"},
		{Rule{Fault: FaultDelay}, `rules[1].delay: required for fault "delay"`},
		{Rule{Fault: FaultReset, Delay: time.Second}, `rules[1].delay: not valid for fault "reset"`},
		{Rule{Fault: FaultTruncate, Bytes: 1, Percent: 1}, "rules[1].bytes: mutually exclusive with percent"},
		{Rule{Fault: FaultSkip, Segments: -2}, "rules[1].segments: must not be negative, got -2"},
		{Rule{Fault: FaultReset, For: -time.Second}, "rules[1].for: must not be negative, got -1s"},
	}
	for _, tc := range cases {
		err := p.SetRules([]Rule{{Fault: FaultReset}, tc.rule})
		if err == nil || err.Error() != tc.err {
			t.Errorf("SetRules(%+v) error = %v\nwant %s", tc.rule, err, tc.err)
		}
	}
	if err := (Rule{Fault: FaultStatus, Status: 200}).Validate(); err == nil || err.Error() != "status: must be between 400 and 599, got 200" {
		t.Errorf("Validate error = %v", err)
	}
}

// FuzzProfile checks that the profile parsers never panic and that every
// profile they accept is accepted by SetRules.
func FuzzProfile(f *testing.F) {
	for _, tc := range profileCases {
		f.Add([]byte(tc.in))
	}
	for _, spec := range []string{"flaky-source", "outage:30s", "resets:0.5+dead-dest", "slow:1ms"} {
		f.Add([]byte(spec))
	}
	p := New(&url.URL{Scheme: "http", Host: "127.0.0.1:1"})
	f.Cleanup(func() { p.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		if prof, err := ParseProfile(data); err == nil {
			if err := p.SetRules(prof.Rules); err != nil {
				t.Fatalf("ParseProfile accepted %q but SetRules: %v", data, err)
			}
		}
		if prof, err := BuiltinProfile(string(data)); err == nil {
			if err := p.SetRules(prof.Rules); err != nil {
				t.Fatalf("BuiltinProfile accepted %q but SetRules: %v", data, err)
			}
		}
	})
}
