package output

import (
	"context"
	"testing"
)

type plainTarget struct{}

func (plainTarget) Name() string                         { return "plain" }
func (plainTarget) Put(context.Context, File) error      { return nil }
func (plainTarget) Delete(context.Context, string) error { return nil }

type partTarget struct {
	plainTarget
	ok bool
}

func (t partTarget) AcceptsParts() bool { return t.ok }

func TestAcceptsParts(t *testing.T) {
	for _, c := range []struct {
		t    Target
		want bool
	}{{plainTarget{}, false}, {partTarget{ok: false}, false}, {partTarget{ok: true}, true}} {
		if got := AcceptsParts(c.t); got != c.want {
			t.Errorf("AcceptsParts(%T %+v) = %v", c.t, c.t, got)
		}
	}
}
