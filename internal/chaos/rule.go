package chaos

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Fault is the kind of failure a Rule injects.
type Fault string

// The faults a Rule can inject.
const (
	// FaultStatus answers with Rule.Status (default 503) without contacting
	// the target.
	FaultStatus Fault = "status"
	// FaultDelay waits Rule.Delay, then forwards the request.
	FaultDelay Fault = "delay"
	// FaultHang never answers: the request is held until the client gives
	// up, the proxy is closed or, when Rule.Delay > 0, that long has passed;
	// then the connection is dropped without a response. "timeout" is
	// accepted as an alias (ParseFault, Rule.Fault, profiles).
	FaultHang Fault = "hang"
	// FaultReset hijacks the connection and closes it with SO_LINGER 0, so
	// the client sees a TCP reset. The target is not contacted.
	FaultReset Fault = "reset"
	// FaultTruncate forwards the request, announces the full Content-Length
	// but sends only part of the body (Rule.Bytes, or Rule.Percent of it)
	// and drops the connection: the client reads an unexpected EOF.
	FaultTruncate Fault = "truncate"
	// FaultStale answers a GET or HEAD with the body the proxy last returned
	// for the same path, without contacting the target. It applies only to
	// playlists (paths ending in .m3u8/.m3u or an mpegurl Content-Type) the
	// proxy has already served; until then the rule does not match.
	FaultStale Fault = "stale"
	// FaultResetSequence rewrites a media playlist as if the source had
	// restarted: the first rewritten playlist of a path gets
	// EXT-X-MEDIA-SEQUENCE Rule.Sequence (default 0) and later ones count on
	// from there relative to the source (source sequence - sequence at the
	// first rewrite). Segment lines are untouched.
	FaultResetSequence Fault = "reset-sequence"
	// FaultSkip drops the first Rule.Segments (default 1) segments of a media
	// playlist and raises EXT-X-MEDIA-SEQUENCE by the number dropped (and
	// EXT-X-DISCONTINUITY-SEQUENCE by the discontinuities dropped): a
	// sequence jump. The last segment is always kept.
	FaultSkip Fault = "skip"
)

// Faults lists every fault in documentation order.
func Faults() []Fault {
	return []Fault{FaultStatus, FaultDelay, FaultHang, FaultReset, FaultTruncate, FaultStale, FaultResetSequence, FaultSkip}
}

// ParseFault returns the Fault with the given name; "timeout" is an alias of
// "hang".
func ParseFault(name string) (Fault, error) {
	if name == "timeout" {
		return FaultHang, nil
	}
	f := Fault(name)
	if slices.Contains(Faults(), f) {
		return f, nil
	}
	return "", fmt.Errorf("unknown fault %q (want one of %s)", name, faultNames())
}

func faultNames() string {
	names := make([]string, 0, len(Faults())+1)
	for _, f := range Faults() {
		names = append(names, string(f))
		if f == FaultHang {
			names = append(names, "timeout")
		}
	}
	return strings.Join(names, ", ")
}

// Rule selects requests and the fault injected into them. The zero value of
// every selector matches everything; a rule with only Fault set fires on
// every request.
type Rule struct {
	// Name labels the rule in events and logs; "rules[i]" when empty.
	Name string
	// Fault is the failure to inject (required).
	Fault Fault

	// Methods restricts the rule to these HTTP methods (exact, upper case);
	// empty matches every method.
	Methods []string
	// Path is a path.Match glob. A pattern without "/" is matched against
	// the last path element ("*.m3u8"), one with "/" against the whole path
	// ("/live/*/index.m3u8"). Empty matches every path.
	Path string
	// Regexp is a Go regular expression matched (unanchored) against the
	// request path. Mutually exclusive with Path.
	Regexp string

	// Probability is the chance in [0, 1] that a matching request gets the
	// fault; 0 and 1 mean always. The probabilistic rules that match one
	// request share a single draw from the proxy's seeded source: the first
	// takes [0,p1), the next [p1,p1+p2) and so on, so their rates add up.
	Probability float64
	// Count limits the rule to its first Count firings; 0 is unlimited.
	Count int
	// After and For set a time window relative to when the rules were
	// installed (New or SetRules): the rule fires from After on, for For
	// (0: for ever).
	After, For time.Duration

	// Status is the status code of a FaultStatus, 400..599 (0: 503).
	Status int
	// Delay is the added latency of a FaultDelay (required), or the time a
	// FaultHang holds the request before dropping it (0: until the client
	// gives up or the proxy is closed).
	Delay time.Duration
	// Bytes is how many body bytes a FaultTruncate delivers; when 0,
	// Percent of the body is delivered instead (0: none). At least one byte
	// is always withheld.
	Bytes int64
	// Percent is the share of the body, in [0, 100), a FaultTruncate
	// delivers when Bytes is 0.
	Percent float64
	// Segments is how many segments a FaultSkip drops (0: 1).
	Segments int
	// Sequence is the EXT-X-MEDIA-SEQUENCE a FaultResetSequence restarts at.
	Sequence uint64
}

// Validate reports the first problem with r, naming the offending field.
func (r Rule) Validate() error {
	_, err := compileRule(r, "")
	return err
}

// label returns the name used for the rule at index i.
func (r Rule) label(i int) string {
	if r.Name != "" {
		return r.Name
	}
	return fmt.Sprintf("rules[%d]", i)
}

// compiledRule is a validated Rule with its regexp compiled.
type compiledRule struct {
	Rule
	re *regexp.Regexp
}

// compileRule validates r; prefix ("rules[2].") is prepended to field names
// in errors.
func compileRule(r Rule, prefix string) (compiledRule, error) {
	fail := func(field, format string, args ...any) (compiledRule, error) {
		return compiledRule{}, fmt.Errorf("%s%s: %s", prefix, field, fmt.Sprintf(format, args...))
	}
	if r.Fault == "" {
		return fail("fault", "missing (want one of %s)", faultNames())
	}
	f, err := ParseFault(string(r.Fault))
	if err != nil {
		return fail("fault", "%v", err)
	}
	r.Fault = f // "timeout" is "hang"
	for i, m := range r.Methods {
		if !validMethod(m) {
			return fail(fmt.Sprintf("methods[%d]", i), "invalid method %q (want an upper-case token such as GET)", m)
		}
	}
	cr := compiledRule{Rule: r}
	if r.Path != "" && r.Regexp != "" {
		return fail("path", "mutually exclusive with regexp")
	}
	if r.Path != "" {
		if _, err := path.Match(r.Path, ""); err != nil {
			return fail("path", "invalid glob %q: %v", r.Path, err)
		}
	}
	if r.Regexp != "" {
		re, err := regexp.Compile(r.Regexp)
		if err != nil {
			return fail("regexp", "invalid: %v", err)
		}
		cr.re = re
	}
	if !(r.Probability >= 0 && r.Probability <= 1) {
		return fail("probability", "must be between 0 and 1, got %v", r.Probability)
	}
	if r.Count < 0 {
		return fail("count", "must not be negative, got %d", r.Count)
	}
	if r.After < 0 {
		return fail("after", "must not be negative, got %s", r.After)
	}
	if r.For < 0 {
		return fail("for", "must not be negative, got %s", r.For)
	}
	if r.Status != 0 && (r.Status < 400 || r.Status > 599) {
		return fail("status", "must be between 400 and 599, got %d", r.Status)
	}
	if r.Delay < 0 {
		return fail("delay", "must not be negative, got %s", r.Delay)
	}
	if r.Bytes < 0 {
		return fail("bytes", "must not be negative, got %d", r.Bytes)
	}
	if !(r.Percent >= 0 && r.Percent < 100) {
		return fail("percent", "must be at least 0 and below 100, got %v", r.Percent)
	}
	if r.Bytes > 0 && r.Percent > 0 {
		return fail("bytes", "mutually exclusive with percent")
	}
	if r.Segments < 0 {
		return fail("segments", "must not be negative, got %d", r.Segments)
	}
	// Parameters that mean nothing for this fault are mistakes.
	params := []struct {
		name string
		set  bool
	}{
		{"status", r.Status != 0},
		{"delay", r.Delay != 0},
		{"bytes", r.Bytes != 0},
		{"percent", r.Percent != 0},
		{"segments", r.Segments != 0},
		{"sequence", r.Sequence != 0},
	}
	for _, p := range params {
		if p.set && !paramAllowed(r.Fault, p.name) {
			return fail(p.name, "not valid for fault %q", r.Fault)
		}
	}
	if r.Fault == FaultDelay && r.Delay == 0 {
		return fail("delay", "required for fault %q", r.Fault)
	}
	return cr, nil
}

// paramAllowed reports whether the fault-specific parameter applies to f.
func paramAllowed(f Fault, param string) bool {
	switch param {
	case "status":
		return f == FaultStatus
	case "delay":
		return f == FaultDelay || f == FaultHang
	case "bytes", "percent":
		return f == FaultTruncate
	case "segments":
		return f == FaultSkip
	case "sequence":
		return f == FaultResetSequence
	}
	return false
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range m {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// matches reports whether the rule selects a request with this method and
// path.
func (r *compiledRule) matches(method, p string) bool {
	if len(r.Methods) > 0 && !slices.Contains(r.Methods, method) {
		return false
	}
	if r.Path != "" {
		subject := p
		if !strings.Contains(r.Path, "/") {
			subject = path.Base(p)
		}
		if ok, _ := path.Match(r.Path, subject); !ok {
			return false
		}
	}
	if r.re != nil && !r.re.MatchString(p) {
		return false
	}
	return true
}

// inWindow reports whether elapsed (time since the rules were installed)
// falls in the rule's window.
func (r *compiledRule) inWindow(elapsed time.Duration) bool {
	if elapsed < r.After {
		return false
	}
	return r.For == 0 || elapsed < r.After+r.For
}

// alwaysFires reports whether the rule skips the random draw.
func (r *compiledRule) alwaysFires() bool {
	return r.Probability == 0 || r.Probability >= 1
}
