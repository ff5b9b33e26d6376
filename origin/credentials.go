package origin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
	"unicode"

	"github.com/pullpush/pullpush/digest"
	"github.com/pullpush/pullpush/internal/atomicfile"
)

// Credential rotation limits.
const (
	// DefaultCredentialGrace is how long a rotated-out password keeps
	// working when the rotation names no grace period: long enough for
	// every pusher to pick up the new one.
	DefaultCredentialGrace = 5 * time.Minute
	// MaxCredentialGrace bounds the grace period of a rotation.
	MaxCredentialGrace = 24 * time.Hour
	// minPasswordLen is the shortest password a rotation accepts.
	minPasswordLen = 8
)

// credentialsFile holds rotated ingest credentials under the data
// directory, as HA1 values only (never passwords).
const credentialsFile = "credentials.json"

// ErrCredentials is wrapped by RotateCredentials' errors about its
// arguments.
var ErrCredentials = errors.New("bad credentials")

// credential is one accepted user and password, as its digest HA1, until
// an expiry (zero: no expiry).
type credential struct {
	User  string    `json:"user"`
	HA1   string    `json:"ha1"`
	Until time.Time `json:"until,omitzero"`
}

// credScope is the credentials of one scope of a channel: "" for every
// input of a channel without per-input credentials, else an input name.
type credScope struct {
	// Base is the HA1 the configuration gave this scope when it was first
	// rotated: a stored rotation is dropped once the configuration changes
	// the credentials itself.
	Base  string       `json:"base"`
	Creds []credential `json:"creds"` // newest first
}

// credStore is the ingest credentials of one channel. Verifiers read it
// through ha1s; RotateCredentials changes it at run time.
type credStore struct {
	mu     sync.Mutex
	now    func() time.Time
	scopes map[string]*credScope
	base   map[string]string // the configuration's HA1 per scope
}

func newCredStore(cc ChannelConfig, now func() time.Time) *credStore {
	s := &credStore{now: now, scopes: map[string]*credScope{}, base: map[string]string{}}
	add := func(scope, user, pass string) {
		ha1 := digest.HA1(user, realm, pass)
		s.base[scope] = ha1
		s.scopes[scope] = &credScope{Base: ha1, Creds: []credential{{User: user, HA1: ha1}}}
	}
	if len(cc.Inputs) == 0 {
		add("", cc.Username, cc.Password)
	}
	for _, in := range cc.Inputs {
		user, pass, _ := cc.credentials(in.Name)
		add(in.Name, user, pass)
	}
	return s
}

// ha1s returns the digest lookup of scope: the HA1 values user may use now.
func (s *credStore) ha1s(scope string) digest.HA1Lookup {
	return func(user string) []string {
		s.mu.Lock()
		defer s.mu.Unlock()
		sc := s.scopes[scope]
		if sc == nil {
			return nil
		}
		now := s.now()
		var out []string
		for _, c := range sc.Creds {
			if c.User == user && (c.Until.IsZero() || now.Before(c.Until)) {
				out = append(out, c.HA1)
			}
		}
		return out
	}
}

// rotate makes user/pass the credentials of scope now; the previous ones
// keep working for grace.
func (s *credStore) rotate(scope, user, pass string, grace time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.scopes[scope]
	if sc == nil {
		return fmt.Errorf("%w: no input %q", ErrCredentials, scope)
	}
	now := s.now()
	until := now.Add(grace)
	kept := []credential{{User: user, HA1: digest.HA1(user, realm, pass)}}
	for _, c := range sc.Creds {
		if !c.Until.IsZero() && !now.Before(c.Until) {
			continue // expired
		}
		if c.Until.IsZero() || c.Until.After(until) {
			c.Until = until
		}
		if grace > 0 {
			kept = append(kept, c)
		}
	}
	sc.Creds = kept
	return nil
}

// user returns the newest user name of scope.
func (s *credStore) user(scope string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc := s.scopes[scope]; sc != nil && len(sc.Creds) > 0 {
		return sc.Creds[0].User
	}
	return ""
}

// rotated returns copies of the rotated scopes (those no longer as configured).
func (s *credStore) rotated() map[string]*credScope {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]*credScope{}
	for k, sc := range s.scopes {
		if len(sc.Creds) != 1 || sc.Creds[0].HA1 != s.base[k] {
			c := *sc
			c.Creds = append([]credential(nil), sc.Creds...)
			out[k] = &c
		}
	}
	return out
}

// restore applies stored rotations whose base is still the configured one.
func (s *credStore) restore(stored map[string]*credScope) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, sc := range stored {
		if cur := s.scopes[k]; cur != nil && sc.Base == s.base[k] && len(sc.Creds) > 0 {
			cur.Creds = sc.Creds
		}
	}
}

// RotateCredentials changes the ingest credentials of a channel at run
// time: input names the input of a channel with per-input credentials
// ("" for a channel whose inputs share theirs), user "" keeps the current
// user name. The new password works at once; the previous one keeps
// working for grace (0: DefaultCredentialGrace; negative: none). With a
// data directory the rotation is kept across restarts, as HA1 values,
// until the configuration changes that input's credentials itself.
func (o *Origin) RotateCredentials(channelID, input, user, password string, grace time.Duration) error {
	ch := o.lookup(channelID)
	if ch == nil {
		return fmt.Errorf("%w: no channel %q", ErrCredentials, channelID)
	}
	if ch.perInput == nil && input != "" {
		return fmt.Errorf("%w: the inputs of channel %q share their credentials: rotate them with no input", ErrCredentials, channelID)
	}
	if ch.perInput != nil && input == "" {
		return fmt.Errorf("%w: channel %q has credentials per input: name the input", ErrCredentials, channelID)
	}
	if len(password) < minPasswordLen {
		return fmt.Errorf("%w: the password must have at least %d characters", ErrCredentials, minPasswordLen)
	}
	for _, r := range password + user {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: control characters in the user or password", ErrCredentials)
		}
	}
	switch {
	case grace == 0:
		grace = DefaultCredentialGrace
	case grace < 0:
		grace = 0
	case grace > MaxCredentialGrace:
		return fmt.Errorf("%w: the grace period is longer than %s", ErrCredentials, MaxCredentialGrace)
	}
	if user == "" {
		user = ch.creds.user(input)
	}
	if err := ch.creds.rotate(input, user, password, grace); err != nil {
		return err
	}
	o.log.Info("ingest credentials rotated", logChannel, channelID, "input", input, "grace", grace)
	if o.shared != nil {
		return o.shareRotations(channelID)
	}
	return o.saveCredentials()
}

// shareRotations writes the rotations of a channel into its record in the
// shared bucket, where the other instances pick them up.
func (o *Origin) shareRotations(channelID string) error {
	o.chMu.Lock()
	defer o.chMu.Unlock()
	ch := o.lookup(channelID)
	if ch == nil {
		return fmt.Errorf("%w: no channel %q", ErrCredentials, channelID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return o.storeChannel(ctx, ch.cfg, o.seedOf(channelID), ch.creds.rotated())
}

// credentialsPath is the file of rotated credentials, "" without a data
// directory (shared storage: rotations last until the process stops).
func (o *Origin) credentialsPath() string {
	if o.shared != nil || o.cfg.DataDir == "" {
		return ""
	}
	return filepath.Join(o.cfg.DataDir, credentialsFile)
}

// saveCredentials writes every channel's rotated credentials.
func (o *Origin) saveCredentials() error {
	p := o.credentialsPath()
	if p == "" {
		return nil
	}
	all := map[string]map[string]*credScope{}
	for _, ch := range o.list() {
		if r := ch.creds.rotated(); len(r) > 0 {
			all[ch.cfg.ID] = r
		}
	}
	data, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(p, data); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	return nil
}

// loadCredentials applies the stored rotations at start.
func (o *Origin) loadCredentials() error {
	p := o.credentialsPath()
	if p == "" {
		return nil
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("origin: %w", err)
	}
	var all map[string]map[string]*credScope
	if err := json.Unmarshal(data, &all); err != nil {
		return fmt.Errorf("origin: %s: %w", p, err)
	}
	ids := make([]string, 0, len(all))
	for id := range all {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if ch := o.lookup(id); ch != nil {
			ch.creds.restore(all[id])
		}
	}
	return nil
}
