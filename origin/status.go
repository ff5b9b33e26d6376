package origin

import (
	"sort"
	"time"
)

// ChannelStatus is what an operator sees of a channel: its endpoints and
// the state of its inputs. It never holds credentials.
type ChannelStatus struct {
	ID        string           `json:"id"`
	Active    string           `json:"activeInput"` // "" until an input delivered
	Switches  int              `json:"switches"`    // switches of the active input
	Inputs    []InputStatus    `json:"inputs"`
	Endpoints []EndpointStatus `json:"endpoints"`
	// Renditions are the output timelines: segments retained and the end
	// of the newest one.
	Renditions []RenditionStatus `json:"renditions"`
}

// InputStatus is one redundant input of a channel.
type InputStatus struct {
	Name   string `json:"name"`
	Active bool   `json:"active"`
	// LastSegment is when the input last delivered a new segment (the
	// ingest clock); zero when it never did.
	LastSegment time.Time `json:"lastSegment,omitzero"`
}

// EndpointStatus is one packaging endpoint of a channel.
type EndpointStatus struct {
	ID             string        `json:"id"` // "" for the implicit endpoint
	Packaging      string        `json:"packaging"`
	Encryption     string        `json:"encryption,omitempty"` // method, "" when clear
	ManifestWindow time.Duration `json:"manifestWindowNs"`
	Startover      time.Duration `json:"startoverWindowNs"`
	TimeDelay      time.Duration `json:"timeDelayNs"`
}

// RenditionStatus is one output timeline.
type RenditionStatus struct {
	Name     string    `json:"name"`
	Segments int       `json:"segments"`
	End      time.Time `json:"end,omitzero"` // end of the newest segment
}

// Channels returns the status of every channel, in configuration order.
func (o *Origin) Channels() []ChannelStatus {
	out := make([]ChannelStatus, 0, len(o.list()))
	for _, ch := range o.list() {
		out = append(out, ch.status())
	}
	return out
}

// Channel returns the status of one channel.
func (o *Origin) Channel(id string) (ChannelStatus, bool) {
	ch := o.lookup(id)
	if ch == nil {
		return ChannelStatus{}, false
	}
	return ch.status(), true
}

func (c *channel) status() ChannelStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := ChannelStatus{ID: c.cfg.ID, Active: c.Active, Switches: c.Switches,
		Inputs: []InputStatus{}, Endpoints: []EndpointStatus{}, Renditions: []RenditionStatus{}}
	for _, name := range c.Order {
		in := c.Inputs[name]
		is := InputStatus{Name: name, Active: name == c.Active}
		for _, ir := range in.Rends {
			if ir.LastRecv.After(is.LastSegment) {
				is.LastSegment = ir.LastRecv
			}
		}
		if !is.LastSegment.IsZero() {
			is.LastSegment = is.LastSegment.UTC()
		}
		st.Inputs = append(st.Inputs, is)
	}
	for _, ep := range c.eps {
		es := EndpointStatus{ID: ep.id, Packaging: PackagingTS, ManifestWindow: ep.manifest, Startover: ep.startover, TimeDelay: ep.delay}
		switch {
		case ep.dash:
			es.Packaging = PackagingDASH
		case ep.cmaf:
			es.Packaging = PackagingCMAF
		}
		if ep.enc != nil {
			es.Encryption = ep.enc.method
		}
		st.Endpoints = append(st.Endpoints, es)
	}
	keys := append([]string(nil), c.RendKeys...)
	sort.Strings(keys)
	for _, k := range keys {
		r := c.Rends[k]
		rs := RenditionStatus{Name: k, Segments: len(r.Segs)}
		if len(r.Segs) > 0 {
			rs.End = time.Unix(0, r.LastEnd()).UTC()
		}
		st.Renditions = append(st.Renditions, rs)
	}
	return st
}
