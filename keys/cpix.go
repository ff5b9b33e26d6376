package keys

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"strconv"
)

// CPIX / SPEKE v1 constants.
const (
	nsCPIX  = "urn:dashif:org:cpix"
	nsPSKC  = "urn:ietf:params:xml:ns:keyprov:pskc"
	nsSPEKE = "urn:aws:amazon:com:speke"
	// SystemIDHLSAES128 is the SPEKE system ID of HLS AES-128 (identity
	// keys fetched from a key URI).
	SystemIDHLSAES128 = "81376844-f976-481e-a84e-cc25d39b0b33"
	// SystemIDFairPlay is Apple FairPlay's system ID (HLS SAMPLE-AES).
	SystemIDFairPlay = "94ce86fb-07ff-4f43-adb8-93d2fa968ca2"
)

// CPIX is a CPIX document as used by SPEKE v1, reduced to the elements
// pullpush reads and writes. Element names are matched by local name, so
// any namespace prefix is accepted on input.
type CPIX struct {
	XMLName        xml.Name            `xml:"CPIX"`
	ID             string              `xml:"id,attr"`
	ContentKeys    []CPIXContentKey    `xml:"ContentKeyList>ContentKey"`
	DRMSystems     []CPIXDRMSystem     `xml:"DRMSystemList>DRMSystem"`
	Periods        []CPIXPeriod        `xml:"ContentKeyPeriodList>ContentKeyPeriod"`
	ContentKeyUses []CPIXContentKeyUse `xml:"ContentKeyUsageRuleList>ContentKeyUsageRule"`
}

// CPIXContentKey is a cpix:ContentKey: a key ID and, in responses, the
// base64 key value in Data>Secret>PlainValue.
type CPIXContentKey struct {
	KID        string `xml:"kid,attr"`
	ExplicitIV string `xml:"explicitIV,attr,omitempty"`
	PlainValue string `xml:"Data>Secret>PlainValue"`
}

// CPIXDRMSystem is a cpix:DRMSystem; URIExtXKey is the base64 of the key
// URI for EXT-X-KEY.
type CPIXDRMSystem struct {
	KID               string `xml:"kid,attr"`
	SystemID          string `xml:"systemId,attr"`
	URIExtXKey        string `xml:"URIExtXKey"`
	KeyFormat         string `xml:"KeyFormat"`
	KeyFormatVersions string `xml:"KeyFormatVersions"`
}

// CPIXPeriod is a cpix:ContentKeyPeriod (live key rotation).
type CPIXPeriod struct {
	ID    string `xml:"id,attr"`
	Index int64  `xml:"index,attr"`
}

// CPIXContentKeyUse is a cpix:ContentKeyUsageRule tying a key to a period.
type CPIXContentKeyUse struct {
	KID    string           `xml:"kid,attr"`
	Filter CPIXPeriodFilter `xml:"KeyPeriodFilter"`
}

// CPIXPeriodFilter is a cpix:KeyPeriodFilter.
type CPIXPeriodFilter struct {
	PeriodID string `xml:"periodId,attr"`
}

// ParseCPIX decodes a CPIX document.
func ParseCPIX(data []byte) (*CPIX, error) {
	var doc CPIX
	dec := xml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("cpix: %w", err)
	}
	return &doc, nil
}

// Output form, with the usual prefixes.
type cpixOut struct {
	XMLName  xml.Name `xml:"cpix:CPIX"`
	ID       string   `xml:"id,attr"`
	NSCPIX   string   `xml:"xmlns:cpix,attr"`
	NSPSKC   string   `xml:"xmlns:pskc,attr"`
	NSSPEKE  string   `xml:"xmlns:speke,attr"`
	Keys     []ckOut  `xml:"cpix:ContentKeyList>cpix:ContentKey"`
	Systems  []drmOut `xml:"cpix:DRMSystemList>cpix:DRMSystem"`
	Periods  []perOut `xml:"cpix:ContentKeyPeriodList>cpix:ContentKeyPeriod,omitempty"`
	KeyUsage []useOut `xml:"cpix:ContentKeyUsageRuleList>cpix:ContentKeyUsageRule,omitempty"`
}

type ckOut struct {
	KID        string   `xml:"kid,attr"`
	ExplicitIV string   `xml:"explicitIV,attr,omitempty"`
	Data       *dataOut `xml:"cpix:Data,omitempty"`
}

type dataOut struct {
	PlainValue string `xml:"pskc:Secret>pskc:PlainValue"`
}

type drmOut struct {
	KID               string `xml:"kid,attr"`
	SystemID          string `xml:"systemId,attr"`
	URIExtXKey        string `xml:"cpix:URIExtXKey"`
	KeyFormat         string `xml:"speke:KeyFormat"`
	KeyFormatVersions string `xml:"speke:KeyFormatVersions"`
}

type perOut struct {
	ID    string `xml:"id,attr"`
	Index int64  `xml:"index,attr"`
}

type useOut struct {
	KID    string    `xml:"kid,attr"`
	Filter periodRef `xml:"cpix:KeyPeriodFilter"`
}

type periodRef struct {
	PeriodID string `xml:"periodId,attr"`
}

// Marshal encodes the document with cpix/pskc/speke prefixes. Key values
// are included (base64), so the result is secret when they are set.
func (c *CPIX) Marshal() ([]byte, error) {
	out := cpixOut{ID: c.ID, NSCPIX: nsCPIX, NSPSKC: nsPSKC, NSSPEKE: nsSPEKE}
	for _, k := range c.ContentKeys {
		ck := ckOut{KID: k.KID, ExplicitIV: k.ExplicitIV}
		if k.PlainValue != "" {
			ck.Data = &dataOut{PlainValue: k.PlainValue}
		}
		out.Keys = append(out.Keys, ck)
	}
	for _, d := range c.DRMSystems {
		out.Systems = append(out.Systems, drmOut(d))
	}
	for _, p := range c.Periods {
		out.Periods = append(out.Periods, perOut(p))
	}
	for _, u := range c.ContentKeyUses {
		out.KeyUsage = append(out.KeyUsage, useOut{KID: u.KID, Filter: periodRef{PeriodID: u.Filter.PeriodID}})
	}
	b, err := xml.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("cpix: %w", err)
	}
	return append([]byte(xml.Header), b...), nil
}

// newKeyRequest builds the SPEKE v1 request for the key of one period.
func newKeyRequest(resource string, kid KID, period int64) *CPIX {
	pid := "keyPeriod_" + strconv.FormatInt(period, 10)
	return &CPIX{
		ID:          resource,
		ContentKeys: []CPIXContentKey{{KID: kid.UUID()}},
		DRMSystems:  []CPIXDRMSystem{{KID: kid.UUID(), SystemID: SystemIDHLSAES128}},
		Periods:     []CPIXPeriod{{ID: pid, Index: period}},
		ContentKeyUses: []CPIXContentKeyUse{{
			KID: kid.UUID(), Filter: CPIXPeriodFilter{PeriodID: pid},
		}},
	}
}

// keyFromResponse extracts the key with ID kid from a SPEKE response.
func keyFromResponse(doc *CPIX, kid KID) (Key, error) {
	k := Key{ID: kid}
	found := false
	for _, ck := range doc.ContentKeys {
		id, err := ParseKID(ck.KID)
		if err != nil || id != kid {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(ck.PlainValue)
		if err != nil || len(raw) != 16 {
			return Key{}, fmt.Errorf("cpix: content key %s: want a base64 16-byte PlainValue", kid.UUID())
		}
		copy(k.Value[:], raw)
		if ck.ExplicitIV != "" {
			iv, err := base64.StdEncoding.DecodeString(ck.ExplicitIV)
			if err != nil || len(iv) != 16 {
				return Key{}, fmt.Errorf("cpix: content key %s: explicitIV is not a base64 16-byte value", kid.UUID())
			}
			k.IV = iv
		}
		found = true
		break
	}
	if !found {
		return Key{}, fmt.Errorf("cpix: %w: response has no content key %s", ErrNoKey, kid.UUID())
	}
	for _, d := range doc.DRMSystems {
		id, err := ParseKID(d.KID)
		if err != nil || id != kid || d.URIExtXKey == "" {
			continue
		}
		if d.SystemID != SystemIDHLSAES128 && k.URI != "" {
			continue
		}
		u, err := base64.StdEncoding.DecodeString(d.URIExtXKey)
		if err != nil {
			return Key{}, fmt.Errorf("cpix: DRM system %s: URIExtXKey is not base64", d.SystemID)
		}
		k.URI = string(u)
	}
	return k, nil
}
