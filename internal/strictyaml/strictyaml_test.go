package strictyaml

import (
	"strings"
	"testing"
	"time"
)

type endpoint struct {
	ID        string        `yaml:"id"`
	Packaging string        `yaml:"packaging,omitempty"`
	Window    time.Duration `yaml:"window"`
}

type common struct {
	Region string `yaml:"region"`
}

type channel struct {
	ID        string            `yaml:"id"`
	Endpoints []endpoint        `yaml:"endpoints"`
	Labels    map[string]string `yaml:"labels"`
	Inputs    map[string]*endpoint
}

type config struct {
	common   `yaml:",inline"`
	Data     string     `yaml:"data"`
	Channels []channel  `yaml:"channels"`
	Default  *endpoint  `yaml:"default"`
	Ignored  string     `yaml:"-"`
	Grid     [2]channel `yaml:"grid"`
}

func TestDecode(t *testing.T) {
	var c config
	c.Data = "kept"
	if err := Decode([]byte("# only a comment\n"), &c); err != nil || c.Data != "kept" {
		t.Fatalf("empty document: %v %+v", err, c)
	}
	doc := `
region: eu
data: /var/lib/pullpush
default: &ep {id: def, window: 30s}
channels:
  - id: one
    endpoints: [{id: ts}, *ep]
    labels: {tier: gold}
    inputs: {a: {id: x}}
`
	if err := Decode([]byte(doc), &c); err != nil {
		t.Fatal(err)
	}
	if c.Region != "eu" || c.Data != "/var/lib/pullpush" || len(c.Channels) != 1 || len(c.Channels[0].Endpoints) != 2 ||
		c.Channels[0].Endpoints[1].Window != 30*time.Second || c.Channels[0].Labels["tier"] != "gold" || c.Channels[0].Inputs["a"].ID != "x" {
		t.Fatalf("decoded %+v", c)
	}
}

func TestDecodeErrors(t *testing.T) {
	bomb := "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
	for _, tc := range []struct{ doc, want string }{
		{"dta: x\n", "line 1: dta: unknown key"},
		{"channels:\n  - id: one\n    endpoints:\n      - id: ts\n        packagin: cmaf\n", "line 5: channels[0].endpoints[0].packagin: unknown key"},
		{"channels:\n  - id: one\n    inputs: {a: {idd: x}}\n", "channels[0].inputs.a.idd: unknown key"},
		{"grid:\n  - id: a\n  - {id: b, bad: 1}\n", "grid[1].bad: unknown key"},
		{"default: {id: a, window: 1s, id: b}\n", "line 1: default.id: key given twice"},
		{"data: a\ndata: b\n", "line 2: data: key given twice"},
		{"ignored: x\n", "ignored: unknown key"},
		{"common: {region: x}\n", "common: unknown key"},
		{"data: [1, 2]\n", "cannot unmarshal"},
		{"data: 'open\n", "yaml:"},
		{bomb, "aliases expand to more than 100000 values"},
		{strings.Repeat(" ", MaxBytes+1), "larger than"},
	} {
		var c config
		err := Decode([]byte(tc.doc), &c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.60q: %v, want %q", tc.doc, err, tc.want)
		}
	}
	if err := Decode([]byte("data: x\n"), config{}); err == nil {
		t.Error("Decode into a non-pointer: no error")
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"data: x\nchannels: [{id: a, endpoints: [{id: ts, window: 10s}]}]\n",
		"default: &e {id: d}\ngrid: [{endpoints: [*e, *e]}, {id: b}]\n",
		"channels:\n  - labels: {a: b}\n    inputs: {x: null}\n",
		"a: &a [*a]\n",
		"{\"data\": \"json\", \"channels\": []}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		var c config
		_ = Decode([]byte(doc), &c) // must not panic or hang
	})
}
