package origin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pullpush/pullpush/origin/internal/shared"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
	"go.yaml.in/yaml/v3"
)

// channelStore keeps the channels' settings: the ones created, changed or
// deleted at run time, and those the configuration seeded. It holds
// opaque records by channel ID.
type channelStore interface {
	load(ctx context.Context) (map[string][]byte, error)
	save(ctx context.Context, id string, rec []byte) error
	remove(ctx context.Context, id string) error
	String() string
}

// channelRecord is what the store holds per channel.
type channelRecord struct {
	// Seed is the digest of the configuration's definition this record
	// was seeded from; "" for a channel created through the API.
	Seed    string        `yaml:"seed,omitempty"`
	Channel ChannelConfig `yaml:"channel"`
	// Rotations are the credential rotations of the channel (digest HA1
	// values only), on shared storage, so that every instance accepts a
	// rotated password at once.
	Rotations map[string]*credScope `yaml:"rotations,omitempty"`
}

// channelsDB is the file of the channel store under the data directory.
const channelsDB = "channels.db"

// channelsKey prefixes the channel records in a shared bucket.
const channelsKey = "channels/"

// boltChannels is the channel store of local storage: a bbolt file,
// opened for each read or write (changes are rare), so that the file is
// locked only while in use.
type boltChannels struct{ path string }

var boltBucket = []byte("channels")

func (b boltChannels) String() string { return b.path }

func (b boltChannels) open() (*bolt.DB, error) {
	if err := os.MkdirAll(filepath.Dir(b.path), 0o755); err != nil {
		return nil, err
	}
	db, err := bolt.Open(b.path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%s is locked by another process (is another origin running on this data directory?)", b.path)
	}
	return db, err
}

func (b boltChannels) load(context.Context) (map[string][]byte, error) {
	db, err := b.open()
	if err != nil {
		return nil, err
	}
	defer db.Close()
	out := map[string][]byte{}
	err = db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(boltBucket)
		if bk == nil {
			return nil
		}
		return bk.ForEach(func(k, v []byte) error {
			out[string(k)] = append([]byte(nil), v...)
			return nil
		})
	})
	return out, err
}

func (b boltChannels) save(_ context.Context, id string, rec []byte) error {
	db, err := b.open()
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(boltBucket)
		if err != nil {
			return err
		}
		return bk.Put([]byte(id), rec)
	})
}

func (b boltChannels) remove(_ context.Context, id string) error {
	db, err := b.open()
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Update(func(tx *bolt.Tx) error {
		if bk := tx.Bucket(boltBucket); bk != nil {
			return bk.Delete([]byte(id))
		}
		return nil
	})
}

// bucketChannels is the channel store of shared storage: one object per
// channel under channels/ in the bucket, read by every instance.
type bucketChannels struct{ blob shared.Store }

func (b bucketChannels) String() string { return b.blob.String() + "/" + channelsKey }

func (b bucketChannels) load(ctx context.Context) (map[string][]byte, error) {
	keys, err := listAll(ctx, b.blob, channelsKey)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, k := range keys {
		data, err := b.blob.Get(ctx, k)
		if errors.Is(err, shared.ErrNoObject) {
			continue // deleted between list and get
		}
		if err != nil {
			return nil, err
		}
		out[strings.TrimPrefix(k, channelsKey)] = data
	}
	return out, nil
}

func (b bucketChannels) save(ctx context.Context, id string, rec []byte) error {
	return b.blob.Put(ctx, channelsKey+id, rec)
}

func (b bucketChannels) remove(ctx context.Context, id string) error {
	return b.blob.Remove(ctx, channelsKey+id)
}

// newChannelStore returns the channel store of the origin's storage.
func (o *Origin) newChannelStore() channelStore {
	if o.shared != nil {
		return bucketChannels{o.shared.blob}
	}
	return boltChannels{filepath.Join(o.cfg.DataDir, channelsDB)}
}

// encodeRecord encodes a channel record (YAML, the configuration's keys).
func encodeRecord(r channelRecord) ([]byte, error) {
	return yaml.Marshal(&r)
}

// decodeRecord decodes and validates a stored channel record.
func (o *Origin) decodeRecord(id string, data []byte) (channelRecord, error) {
	var r channelRecord
	if err := yaml.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("channel record %s: %w", id, err)
	}
	if r.Channel.ID != id {
		return r, fmt.Errorf("channel record %s holds channel %q", id, r.Channel.ID)
	}
	cc, err := o.prepareChannel(r.Channel)
	if err != nil {
		return r, fmt.Errorf("channel record %s: %w", id, err)
	}
	r.Channel = cc
	return r, nil
}

// seedDigest identifies a channel definition of the configuration.
func seedDigest(cc ChannelConfig) string {
	data, _ := yaml.Marshal(&cc)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}

// seedOf returns the seed of channel id's record; call with o.chMu held.
func (o *Origin) seedOf(id string) string { return o.seeds[id] }

// storeChannel writes the record of cc; call with o.chMu held. On shared
// storage the record carries rot, the channel's rotations.
func (o *Origin) storeChannel(ctx context.Context, cc ChannelConfig, seed string, rot map[string]*credScope) error {
	rec := channelRecord{Seed: seed, Channel: cc}
	if o.shared != nil && len(rot) > 0 {
		rec.Rotations = rot
	}
	data, err := encodeRecord(rec)
	if err != nil {
		return fmt.Errorf("origin: encode channel %s: %w", cc.ID, err)
	}
	if err := o.chStore.save(ctx, cc.ID, data); err != nil {
		return fmt.Errorf("origin: store channel %s in %s: %w", cc.ID, o.chStore, err)
	}
	o.recs[cc.ID] = string(data)
	if seed != "" {
		o.seeds[cc.ID] = seed
	}
	return nil
}

// initialChannels merges the configuration's channels (raw: before
// defaults) with the store. The store wins for a channel the
// configuration seeded with the definition it has now (so changes made
// through the API outlive a restart); a definition that is new or changed
// in the configuration replaces the stored one; a channel the
// configuration seeded once and no longer lists is deleted; channels
// created through the API are kept. Call with o.chMu held.
func (o *Origin) initialChannels(ctx context.Context, raw []ChannelConfig) ([]ChannelConfig, error) {
	stored, err := o.chStore.load(ctx)
	if err != nil {
		return nil, fmt.Errorf("origin: load channels from %s: %w", o.chStore, err)
	}
	var out []ChannelConfig
	inConfig := map[string]bool{}
	for i, rc := range raw {
		inConfig[rc.ID] = true
		seed := seedDigest(rc)
		if data, ok := stored[rc.ID]; ok {
			if rec, err := o.decodeRecord(rc.ID, data); err == nil && rec.Seed == seed {
				o.recs[rc.ID], o.seeds[rc.ID] = string(data), seed
				o.restored[rc.ID] = rec.Rotations
				out = append(out, rec.Channel)
				continue
			}
		}
		cc := o.cfg.Channels[i] // defaults applied, validated
		if err := o.storeChannel(ctx, cc, seed, nil); err != nil {
			return nil, err
		}
		out = append(out, cc)
	}
	ids := make([]string, 0, len(stored))
	for id := range stored {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if inConfig[id] {
			continue
		}
		rec, err := o.decodeRecord(id, stored[id])
		if err != nil {
			o.log.Warn("unusable channel record; ignored", logChannel, id, logErr, err)
			continue
		}
		if rec.Seed != "" {
			// seeded by a configuration that no longer lists it
			if err := o.chStore.remove(ctx, id); err != nil {
				return nil, fmt.Errorf("origin: delete channel %s from %s: %w", id, o.chStore, err)
			}
			o.log.Info("channel removed from the configuration; deleted", logChannel, id)
			continue
		}
		o.recs[id] = string(stored[id])
		o.restored[id] = rec.Rotations
		out = append(out, rec.Channel)
	}
	return out, nil
}

// syncChannels makes this instance's channels those of the shared store:
// what another instance created, changed or deleted is applied here.
func (o *Origin) syncChannels(ctx context.Context) error {
	stored, err := o.chStore.load(ctx)
	if err != nil {
		return err
	}
	o.chMu.Lock()
	defer o.chMu.Unlock()
	for _, ch := range o.list() {
		if _, ok := stored[ch.cfg.ID]; !ok {
			o.stopChannel(ch)
			delete(o.recs, ch.cfg.ID)
			o.log.Info("channel deleted by another instance", logChannel, ch.cfg.ID)
		}
	}
	ids := make([]string, 0, len(stored))
	for id := range stored {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		data := stored[id]
		if o.recs[id] == string(data) {
			continue
		}
		rec, err := o.decodeRecord(id, data)
		if err != nil {
			o.log.Warn("unusable channel record; ignored", logChannel, id, logErr, err)
			o.recs[id] = string(data)
			continue
		}
		prev := o.lookup(id)
		if err := o.startChannel(ctx, rec.Channel, prev); err != nil {
			return err
		}
		if len(rec.Rotations) > 0 {
			o.lookup(id).creds.restore(rec.Rotations)
		}
		o.recs[id] = string(data)
		if rec.Seed != "" {
			o.seeds[id] = rec.Seed
		}
		o.log.Info("channel changed by another instance", logChannel, id)
	}
	return nil
}
