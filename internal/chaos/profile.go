package chaos

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Profile is a named list of rules: a built-in (BuiltinProfile) or a JSON
// document (ParseProfile).
type Profile struct {
	Name  string
	Rules []Rule
}

// BuiltinUsage describes the built-in profiles, for help texts.
const BuiltinUsage = `  flaky-source          GETs: 10% answered 503, 5% truncated at 50%, 5% delayed 2s
  dead-dest             every PUT answered 503
  outage[:DURATION]     every request answered 503 for DURATION (default 30s), then healthy
  resets[:P]            a share P (default 0.1) of all requests get a TCP reset
  slow[:DURATION]       every request delayed by DURATION (default 2s)
  hangs[:P]             a share P (default 0.1) of all requests never answered
Built-ins combine with "+", e.g. outage:10s+resets:0.05.`

// BuiltinProfile returns the built-in profile named by spec: one name or
// several joined with "+", each with an optional ":PARAMETER" (see
// BuiltinUsage).
func BuiltinProfile(spec string) (Profile, error) {
	if spec == "" {
		return Profile{}, errors.New("empty profile name")
	}
	var rules []Rule
	for part := range strings.SplitSeq(spec, "+") {
		name, arg, hasArg := strings.Cut(part, ":")
		noArg := func() error {
			if hasArg {
				return fmt.Errorf("profile %q takes no parameter", name)
			}
			return nil
		}
		switch name {
		case "flaky-source":
			if err := noArg(); err != nil {
				return Profile{}, err
			}
			get := []string{"GET"}
			rules = append(rules,
				Rule{Name: "flaky-source/503", Fault: FaultStatus, Methods: get, Status: 503, Probability: 0.10},
				Rule{Name: "flaky-source/truncate", Fault: FaultTruncate, Methods: get, Percent: 50, Probability: 0.05},
				Rule{Name: "flaky-source/delay", Fault: FaultDelay, Methods: get, Delay: 2 * time.Second, Probability: 0.05},
			)
		case "dead-dest":
			if err := noArg(); err != nil {
				return Profile{}, err
			}
			rules = append(rules, Rule{Name: "dead-dest", Fault: FaultStatus, Methods: []string{"PUT"}, Status: 503})
		case "outage":
			d, err := builtinDuration(name, arg, hasArg, 30*time.Second)
			if err != nil {
				return Profile{}, err
			}
			rules = append(rules, Rule{Name: "outage", Fault: FaultStatus, Status: 503, For: d})
		case "slow":
			d, err := builtinDuration(name, arg, hasArg, 2*time.Second)
			if err != nil {
				return Profile{}, err
			}
			rules = append(rules, Rule{Name: "slow", Fault: FaultDelay, Delay: d})
		case "resets", "hangs":
			p, err := builtinProbability(name, arg, hasArg, 0.1)
			if err != nil {
				return Profile{}, err
			}
			f := FaultReset
			if name == "hangs" {
				f = FaultHang
			}
			rules = append(rules, Rule{Name: name, Fault: f, Probability: p})
		default:
			return Profile{}, fmt.Errorf("unknown built-in profile %q (want flaky-source, dead-dest, outage[:DURATION], resets[:P], slow[:DURATION], hangs[:P] or a .json file)", name)
		}
	}
	return Profile{Name: spec, Rules: rules}, nil
}

func builtinDuration(name, arg string, hasArg bool, def time.Duration) (time.Duration, error) {
	if !hasArg {
		return def, nil
	}
	d, err := time.ParseDuration(arg)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("profile %s: invalid duration %q (want e.g. 30s)", name, arg)
	}
	return d, nil
}

func builtinProbability(name, arg string, hasArg bool, def float64) (float64, error) {
	if !hasArg {
		return def, nil
	}
	p, err := strconv.ParseFloat(arg, 64)
	if err != nil || !(p > 0 && p <= 1) {
		return 0, fmt.Errorf("profile %s: invalid probability %q (want a number in (0,1])", name, arg)
	}
	return p, nil
}

// LoadProfile returns the profile named by spec: a JSON file when spec ends
// in ".json" or contains a path separator, a built-in otherwise.
func LoadProfile(spec string) (Profile, error) {
	if !strings.HasSuffix(spec, ".json") && !strings.ContainsRune(spec, '/') && !strings.ContainsRune(spec, filepath.Separator) {
		return BuiltinProfile(spec)
	}
	data, err := os.ReadFile(spec)
	if err != nil {
		return Profile{}, fmt.Errorf("read profile: %w", err)
	}
	p, err := ParseProfile(data)
	if err != nil {
		return Profile{}, fmt.Errorf("profile %s: %w", spec, err)
	}
	if p.Name == "" {
		p.Name = filepath.Base(spec)
	}
	return p, nil
}

// profileJSON is the document ParseProfile reads.
type profileJSON struct {
	Name  string     `json:"name"`
	Rules []ruleJSON `json:"rules"`
}

// ruleJSON mirrors Rule with pointers, so that a parameter given for the
// wrong fault, or an explicit zero, is reported; durations are Go duration
// strings.
type ruleJSON struct {
	Name        string          `json:"name"`
	Fault       *string         `json:"fault"`
	Methods     []string        `json:"methods"`
	Path        string          `json:"path"`
	Regexp      string          `json:"regexp"`
	Probability *float64        `json:"probability"`
	Count       *int            `json:"count"`
	After       json.RawMessage `json:"after"`
	For         json.RawMessage `json:"for"`
	Status      *int            `json:"status"`
	Delay       json.RawMessage `json:"delay"`
	Bytes       *int64          `json:"bytes"`
	Percent     *float64        `json:"percent"`
	Segments    *int            `json:"segments"`
	Sequence    *uint64         `json:"sequence"`
}

// ParseProfile decodes a JSON profile strictly (unknown keys and trailing
// data are errors) and validates every rule. Errors name the offending key,
// e.g. `rules[1].probability: must be greater than 0 and at most 1, got 2`.
// The format is described in the package documentation.
func ParseProfile(data []byte) (Profile, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var pj profileJSON
	if err := dec.Decode(&pj); err != nil {
		return Profile{}, fmt.Errorf("decode: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Profile{}, errors.New("decode: unexpected data after the profile object")
	}
	p := Profile{Name: pj.Name, Rules: make([]Rule, 0, len(pj.Rules))}
	for i, rj := range pj.Rules {
		r, err := rj.rule(fmt.Sprintf("rules[%d].", i))
		if err != nil {
			return Profile{}, err
		}
		p.Rules = append(p.Rules, r)
	}
	return p, nil
}

func (j ruleJSON) rule(prefix string) (Rule, error) {
	fail := func(field, format string, args ...any) (Rule, error) {
		return Rule{}, fmt.Errorf("%s%s: %s", prefix, field, fmt.Sprintf(format, args...))
	}
	if j.Fault == nil {
		return fail("fault", "missing (want one of %s)", faultNames())
	}
	f, err := ParseFault(*j.Fault)
	if err != nil {
		return fail("fault", "%v", err)
	}
	r := Rule{Name: j.Name, Fault: f, Path: j.Path, Regexp: j.Regexp}
	for _, m := range j.Methods {
		r.Methods = append(r.Methods, strings.ToUpper(m))
	}
	params := []struct {
		name string
		set  bool
	}{
		{"status", j.Status != nil},
		{"delay", present(j.Delay)},
		{"bytes", j.Bytes != nil},
		{"percent", j.Percent != nil},
		{"segments", j.Segments != nil},
		{"sequence", j.Sequence != nil},
	}
	for _, p := range params {
		if p.set && !paramAllowed(f, p.name) {
			return fail(p.name, "not valid for fault %q", f)
		}
	}
	if p := j.Probability; p != nil {
		if !(*p > 0 && *p <= 1) {
			return fail("probability", "must be greater than 0 and at most 1, got %v", *p)
		}
		r.Probability = *p
	}
	if c := j.Count; c != nil {
		if *c < 1 {
			return fail("count", "must be at least 1, got %d", *c)
		}
		r.Count = *c
	}
	durations := []struct {
		name     string
		raw      json.RawMessage
		dst      *time.Duration
		zeroOK   bool
		positive string
	}{
		{"after", j.After, &r.After, true, "must not be negative"},
		{"for", j.For, &r.For, false, "must be positive"},
		{"delay", j.Delay, &r.Delay, false, "must be positive"},
	}
	for _, d := range durations {
		if !present(d.raw) {
			continue
		}
		var s string
		if err := json.Unmarshal(d.raw, &s); err != nil {
			return fail(d.name, "must be a duration string such as \"2s\", got %s", d.raw)
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fail(d.name, "invalid duration %q", s)
		}
		if v < 0 || (v == 0 && !d.zeroOK) {
			return fail(d.name, "%s, got %q", d.positive, s)
		}
		*d.dst = v
	}
	if s := j.Status; s != nil {
		if *s < 400 || *s > 599 {
			return fail("status", "must be between 400 and 599, got %d", *s)
		}
		r.Status = *s
	}
	if b := j.Bytes; b != nil {
		if *b < 0 {
			return fail("bytes", "must not be negative, got %d", *b)
		}
		if j.Percent != nil {
			return fail("bytes", "mutually exclusive with percent")
		}
		r.Bytes = *b
	}
	if p := j.Percent; p != nil {
		if !(*p >= 0 && *p < 100) {
			return fail("percent", "must be at least 0 and below 100, got %v", *p)
		}
		r.Percent = *p
	}
	if s := j.Segments; s != nil {
		if *s < 1 {
			return fail("segments", "must be at least 1, got %d", *s)
		}
		r.Segments = *s
	}
	if s := j.Sequence; s != nil {
		r.Sequence = *s
	}
	if _, err := compileRule(r, prefix); err != nil {
		return Rule{}, err
	}
	return r, nil
}

// present reports whether a raw JSON value was given and is not null.
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}
