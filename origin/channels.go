package origin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/pullpush/pullpush/digest"
	"github.com/pullpush/pullpush/origin/internal/index"
)

// Errors of the run-time channel changes.
var (
	// ErrChannelExists is returned by AddChannel for an ID in use.
	ErrChannelExists = errors.New("channel exists")
	// ErrNoChannel is returned for a channel ID the origin does not have.
	ErrNoChannel = errors.New("no such channel")
)

// channelSet is one immutable snapshot of the channels: lookups read it
// without a lock, changes publish a new one.
type channelSet struct {
	byID map[string]*channel
	list []*channel // in creation order
}

// lookup returns the channel id, nil when there is none.
func (o *Origin) lookup(id string) *channel {
	if s := o.set.Load(); s != nil {
		return s.byID[id]
	}
	return nil
}

// list returns every channel in creation order; the slice is shared and
// must not be changed.
func (o *Origin) list() []*channel {
	if s := o.set.Load(); s != nil {
		return s.list
	}
	return nil
}

// publish replaces (ch non-nil) or removes (ch nil) channel id in the set;
// call with o.chMu held.
func (o *Origin) publish(id string, ch *channel) {
	old := o.set.Load()
	next := &channelSet{byID: make(map[string]*channel, len(old.byID)+1)}
	for k, v := range old.byID {
		next.byID[k] = v
	}
	replaced := false
	for _, c := range old.list {
		if c.cfg.ID != id {
			next.list = append(next.list, c)
			continue
		}
		if ch != nil {
			next.list = append(next.list, ch)
			replaced = true
		}
	}
	if ch != nil && !replaced {
		next.list = append(next.list, ch)
	}
	if ch == nil {
		delete(next.byID, id)
	} else {
		next.byID[id] = ch
	}
	o.set.Store(next)
}

// newChannel builds the channel of cc (defaults applied, validated). With
// prev (an update), the index, folder and, when the credentials did not
// change, the credential store and verifiers (with their nonces) are
// prev's; without, the channel starts empty in a cleared folder.
func (o *Origin) newChannel(cc ChannelConfig, prev *channel) (*channel, error) {
	ch := &channel{
		cfg: cc,
		acc: newAccess(cc),
		sig: newSigV4Verifier(cc.SigV4, o.cfg.Now),
		eps: newEndpoints(cc),
		log: o.log,
		now: o.cfg.Now,
		gen: o.uniq.Add(1),
		// Endpoints can be added at run time, so every segment keeps the
		// TS timing a CMAF endpoint needs.
		needTS: true,
	}
	ch.Params = index.Params{ID: cc.ID, Log: o.log, Now: o.cfg.Now}
	for _, ep := range ch.eps {
		ch.Retain = max(ch.Retain, ep.startover, cc.StartoverWindow)
		ch.SegDurs = append(ch.SegDurs, ep.segdur)
	}
	if o.shared != nil {
		ch.Shared, ch.RemoveFile = true, o.shared.remove
		ch.publishLag = int64(o.cfg.Storage.PublishDelay())
	}
	if prev != nil {
		ch.dir, ch.mu, ch.State = prev.dir, prev.mu, prev.State
		if sameCredentials(prev.cfg, cc) {
			ch.creds, ch.verifier, ch.perInput = prev.creds, prev.verifier, prev.perInput
			return ch, nil
		}
	} else {
		ch.mu, ch.State = new(sync.Mutex), index.NewState()
		if o.shared == nil {
			ch.dir = filepath.Join(o.cfg.DataDir, cc.ID)
			if err := os.RemoveAll(ch.dir); err != nil {
				return nil, fmt.Errorf("origin: clear %s: %w", ch.dir, err)
			}
			if err := os.MkdirAll(ch.dir, 0o755); err != nil {
				return nil, fmt.Errorf("origin: create %s: %w", ch.dir, err)
			}
		}
	}
	clock := digest.WithClock(o.cfg.Now)
	ch.creds = newCredStore(cc, o.cfg.Now)
	if len(cc.Inputs) == 0 {
		ch.verifier = digest.NewVerifier(realm, o.cfg.NonceTTL, nil, clock, digest.WithHA1Lookup(ch.creds.ha1s("")))
	} else {
		ch.perInput = make(map[string]*digest.Verifier)
		for _, in := range cc.Inputs {
			ch.perInput[in.Name] = digest.NewVerifier(realm, o.cfg.NonceTTL, nil, clock, digest.WithHA1Lookup(ch.creds.ha1s(in.Name)))
		}
	}
	return ch, nil
}

// sameCredentials reports whether a and b accept the same ingest
// credentials on the same inputs.
func sameCredentials(a, b ChannelConfig) bool {
	return a.Username == b.Username && a.Password == b.Password && slices.Equal(a.Inputs, b.Inputs)
}

// prepareChannel applies defaults to cc and validates it; errors name
// its keys under "channel" (channel.endpoints[0].packaging, ...).
func (o *Origin) prepareChannel(cc ChannelConfig) (ChannelConfig, error) {
	cc = channelWithDefaults(cc)
	if err := o.cfg.validateChannel("channel", cc); err != nil {
		return ChannelConfig{}, err
	}
	return cc, nil
}

// AddChannel creates a channel at run time: it takes ingest and serves
// playback at once, and is kept in the channel store (see
// WithChannelStore) so that it outlives a restart and, on shared storage,
// every instance has it.
func (o *Origin) AddChannel(ctx context.Context, cc ChannelConfig) (ChannelConfig, error) {
	cc, err := o.prepareChannel(cc)
	if err != nil {
		return ChannelConfig{}, err
	}
	o.chMu.Lock()
	defer o.chMu.Unlock()
	if o.lookup(cc.ID) != nil {
		return ChannelConfig{}, fmt.Errorf("%w: %q", ErrChannelExists, cc.ID)
	}
	if err := o.storeChannel(ctx, cc, "", nil); err != nil {
		return ChannelConfig{}, err
	}
	if err := o.startChannel(ctx, cc, nil); err != nil {
		return ChannelConfig{}, err
	}
	o.log.Info("channel created", logChannel, cc.ID)
	return cc.redacted(), nil
}

// UpdateChannel replaces the settings of channel cc.ID at run time: its
// endpoints, windows, access rules and credentials. The index (every
// segment ingested so far) is kept; an empty password keeps the current
// one of that user and input; packaged segments are made anew under the
// new settings. Credentials that change drop the rotations made through
// RotateCredentials.
func (o *Origin) UpdateChannel(ctx context.Context, cc ChannelConfig) (ChannelConfig, error) {
	return o.ModifyChannel(ctx, cc.ID, func(prev ChannelConfig) (ChannelConfig, error) {
		next := keepSecrets(prev, cc)
		next.ID = prev.ID
		return next, nil
	})
}

// ModifyChannel changes the settings of channel id at run time as edit
// says, atomically with respect to other changes: edit gets the current
// settings (defaults applied, with secrets) and returns the new ones (see
// UpdateChannel); an error from edit is returned as is.
func (o *Origin) ModifyChannel(ctx context.Context, id string, edit func(ChannelConfig) (ChannelConfig, error)) (ChannelConfig, error) {
	o.chMu.Lock()
	defer o.chMu.Unlock()
	prev := o.lookup(id)
	if prev == nil {
		return ChannelConfig{}, fmt.Errorf("%w: %q", ErrNoChannel, id)
	}
	cc, err := edit(cloneChannelConfig(prev.cfg))
	if err != nil {
		return ChannelConfig{}, err
	}
	if cc.ID != id {
		return ChannelConfig{}, cfgErr("channel.id", "cannot change the ID of channel %q", id)
	}
	if cc, err = o.prepareChannel(cc); err != nil {
		return ChannelConfig{}, err
	}
	var rot map[string]*credScope
	if sameCredentials(prev.cfg, cc) {
		rot = prev.creds.rotated()
	}
	if err := o.storeChannel(ctx, cc, o.seedOf(id), rot); err != nil {
		return ChannelConfig{}, err
	}
	if err := o.startChannel(ctx, cc, prev); err != nil {
		return ChannelConfig{}, err
	}
	o.log.Info("channel updated", logChannel, id)
	return cc.redacted(), nil
}

// cloneChannelConfig copies c deeply enough that edits of the copy's
// slices do not change c.
func cloneChannelConfig(c ChannelConfig) ChannelConfig {
	c.Inputs = slices.Clone(c.Inputs)
	c.Endpoints = slices.Clone(c.Endpoints)
	c.IngestAllow = slices.Clone(c.IngestAllow)
	if c.CDNAuth != nil {
		a := *c.CDNAuth
		a.Secrets = slices.Clone(a.Secrets)
		c.CDNAuth = &a
	}
	if c.SigV4 != nil {
		s := *c.SigV4
		c.SigV4 = &s
	}
	return c
}

// RemoveChannel deletes channel id at run time: ingest and playback
// answer 404 from then on, its segments are released and it is removed
// from the channel store.
func (o *Origin) RemoveChannel(ctx context.Context, id string) error {
	o.chMu.Lock()
	defer o.chMu.Unlock()
	ch := o.lookup(id)
	if ch == nil {
		return fmt.Errorf("%w: %q", ErrNoChannel, id)
	}
	if err := o.chStore.remove(ctx, id); err != nil {
		return fmt.Errorf("origin: delete channel %s from %s: %w", id, o.chStore, err)
	}
	delete(o.recs, id)
	o.stopChannel(ch)
	o.log.Info("channel deleted", logChannel, id)
	return o.saveCredentials()
}

// stopChannel takes ch out of the set and releases its files; call with
// o.chMu held.
func (o *Origin) stopChannel(ch *channel) {
	o.publish(ch.cfg.ID, nil)
	delete(o.seeds, ch.cfg.ID)
	if o.shared != nil {
		o.shared.forget(ch.cfg.ID)
		return
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if err := os.RemoveAll(ch.dir); err != nil {
		o.log.Warn("remove channel folder", logChannel, ch.cfg.ID, logErr, err)
	}
}

// startChannel builds the channel of cc (over prev's index for an
// update), recovers its index from shared storage when it is new there,
// and publishes it; call with o.chMu held.
func (o *Origin) startChannel(ctx context.Context, cc ChannelConfig, prev *channel) error {
	ch, err := o.newChannel(cc, prev)
	if err != nil {
		return err
	}
	if prev == nil && o.shared != nil && o.replaying.Load() {
		if err := o.recoverChannel(ctx, ch); err != nil {
			return fmt.Errorf("origin: recover channel %s from %s: %w", cc.ID, o.shared.blob, err)
		}
	}
	if rot := o.restored[cc.ID]; len(rot) > 0 && prev == nil {
		ch.creds.restore(rot)
	}
	delete(o.restored, cc.ID)
	o.publish(cc.ID, ch)
	return nil
}

// keepSecrets fills the empty passwords of next with those prev has for
// the same user (and input), and an empty CDN secret list with prev's.
func keepSecrets(prev, next ChannelConfig) ChannelConfig {
	if next.Password == "" && next.Username == prev.Username {
		next.Password = prev.Password
	}
	if next.CDNAuth != nil && len(next.CDNAuth.Secrets) == 0 && prev.CDNAuth != nil {
		a := *next.CDNAuth
		a.Secrets = slices.Clone(prev.CDNAuth.Secrets)
		next.CDNAuth = &a
	}
	if s := next.SigV4; s != nil && s.SecretAccessKey == "" && prev.SigV4 != nil && prev.SigV4.AccessKeyID == s.AccessKeyID {
		c := *s
		c.SecretAccessKey = prev.SigV4.SecretAccessKey
		next.SigV4 = &c
	}
	if len(next.Inputs) > 0 {
		next.Inputs = slices.Clone(next.Inputs)
	}
	for i, in := range next.Inputs {
		if in.Password != "" || in.Username == "" {
			continue
		}
		for _, p := range prev.Inputs {
			if p.Name == in.Name && p.Username == in.Username {
				next.Inputs[i].Password = p.Password
			}
		}
	}
	return next
}

// redacted returns c without its passwords, as the API shows it.
func (c ChannelConfig) redacted() ChannelConfig {
	c.Password = ""
	if len(c.Inputs) > 0 {
		c.Inputs = slices.Clone(c.Inputs)
		for i := range c.Inputs {
			c.Inputs[i].Password = ""
		}
	}
	if c.CDNAuth != nil {
		a := *c.CDNAuth
		a.Secrets = nil
		c.CDNAuth = &a
	}
	if c.SigV4 != nil {
		s := *c.SigV4
		s.SecretAccessKey = ""
		c.SigV4 = &s
	}
	return c
}

// ChannelSettings returns the settings of channel id (defaults applied),
// without passwords or CDN secrets, and whether it exists.
func (o *Origin) ChannelSettings(id string) (ChannelConfig, bool) {
	ch := o.lookup(id)
	if ch == nil {
		return ChannelConfig{}, false
	}
	return ch.cfg.redacted(), true
}

// ChannelIDs returns the IDs of every channel in creation order.
func (o *Origin) ChannelIDs() []string {
	var ids []string
	for _, ch := range o.list() {
		ids = append(ids, ch.cfg.ID)
	}
	return ids
}

// channelSyncLoop applies, on shared storage, the channel changes other
// instances make, until ctx ends.
func (o *Origin) channelSyncLoop(ctx context.Context) {
	t := time.NewTicker(max(4*o.shared.cfg.PollInterval, time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := o.syncChannels(ctx); err != nil && ctx.Err() == nil {
			o.log.Warn("sync channels from the bucket", logErr, err)
		}
	}
}

// ParseChannelConfig decodes one channel's settings strictly, with the
// keys of a channel in the YAML configuration; JSON is accepted too.
// Unknown keys are errors that name the key. Defaults are not applied.
func ParseChannelConfig(data []byte) (ChannelConfig, error) {
	var cc ChannelConfig
	if err := decodeStrict(data, &cc); err != nil {
		return ChannelConfig{}, err
	}
	return cc, nil
}

// ParseEndpointConfig decodes one endpoint's settings strictly, as
// ParseChannelConfig does.
func ParseEndpointConfig(data []byte) (EndpointConfig, error) {
	var ec EndpointConfig
	if err := decodeStrict(data, &ec); err != nil {
		return EndpointConfig{}, err
	}
	return ec, nil
}
