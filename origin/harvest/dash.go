package harvest

import (
	"context"
	"encoding/xml"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The DASH part of an asset: the endpoint's MPD for the closed window is
// static; its SegmentTemplates name the segments and init sections
// relative to the endpoint's directory, which the asset flattens as it
// flattens the HLS URIs. The MPD is copied with only its initialization
// and media templates rewritten to the flat names, so every other element
// (ContentProtection, EventStream, Periods) stays as the origin wrote it.

// mpdDoc is the part of an MPD a harvest reads.
type mpdDoc struct {
	Type    string `xml:"type,attr"`
	Periods []struct {
		ID   string `xml:"id,attr"`
		Sets []struct {
			Template *mpdTemplate `xml:"SegmentTemplate"`
			Reps     []struct {
				ID       string       `xml:"id,attr"`
				Template *mpdTemplate `xml:"SegmentTemplate"`
			} `xml:"Representation"`
		} `xml:"AdaptationSet"`
	} `xml:"Period"`
}

// mpdTemplate is a SegmentTemplate with its SegmentTimeline.
type mpdTemplate struct {
	StartNumber    *int64 `xml:"startNumber,attr"`
	Initialization string `xml:"initialization,attr"`
	Media          string `xml:"media,attr"`
	Timeline       []struct {
		T *uint64 `xml:"t,attr"`
		D uint64  `xml:"d,attr"`
		R int     `xml:"r,attr"`
	} `xml:"SegmentTimeline>S"`
}

// maxDASHSegments bounds the segments one MPD may list (a 24 h window of
// 1 s segments in a few Representations is far below).
const maxDASHSegments = 2_000_000

// templateAttr matches the template attributes planDASH rewrites.
var templateAttr = regexp.MustCompile(`\b(initialization|media)="([^"]*)"`)

// planDASH fetches the static MPD of the window at src (an origin path
// with query below dir), adds the files its templates name to a, and the
// MPD with flat template names as the asset's file name.
func (m *Manager) planDASH(ctx context.Context, a *asset, dir, src, name string) error {
	data, err := m.get(ctx, src)
	if err != nil {
		return err
	}
	var doc mpdDoc
	if err := xml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if doc.Type != "static" {
		return fmt.Errorf("%s: the window is not closed (type %q, not static)", name, doc.Type)
	}
	count := 0
	for _, p := range doc.Periods {
		for _, as := range p.Sets {
			for _, rep := range as.Reps {
				t := rep.Template
				if t == nil {
					t = as.Template
				}
				if t == nil {
					return fmt.Errorf("%s: period %q, representation %q: no SegmentTemplate", name, p.ID, rep.ID)
				}
				n, err := m.planTemplate(a, dir, src, rep.ID, t)
				if err != nil {
					return fmt.Errorf("%s: period %q, representation %q: %w", name, p.ID, rep.ID, err)
				}
				if count += n; count > maxDASHSegments {
					return fmt.Errorf("%s: more than %d segments", name, maxDASHSegments)
				}
			}
		}
	}
	if count == 0 {
		return fmt.Errorf("%s: the window has no segments", name)
	}
	var rewriteErr error
	out := templateAttr.ReplaceAllFunc(data, func(attr []byte) []byte {
		sub := templateAttr.FindSubmatch(attr)
		flat, err := flatTemplate(dir, src, xmlUnescape(string(sub[2])))
		if err != nil {
			rewriteErr = err
			return attr
		}
		return []byte(string(sub[1]) + `="` + flat + `"`)
	})
	if rewriteErr != nil {
		return fmt.Errorf("%s: %w", name, rewriteErr)
	}
	a.playlists = append(a.playlists, assetFile{name: name, data: out})
	return nil
}

// planTemplate adds the init section and every segment of one
// Representation's template to a and returns the number of segments.
func (m *Manager) planTemplate(a *asset, dir, src, repID string, t *mpdTemplate) (int, error) {
	add := func(uri string) error {
		name, err := a.addFile(dir, src, uri)
		if err == nil && name == "" {
			err = fmt.Errorf("%s is not the origin's", uri)
		}
		return err
	}
	if t.Initialization != "" {
		uri, err := expandTemplate(t.Initialization, repID, 0, 0)
		if err != nil {
			return 0, err
		}
		if err := add(uri); err != nil {
			return 0, err
		}
	}
	number := int64(1)
	if t.StartNumber != nil {
		number = *t.StartNumber
	}
	var at uint64
	n := 0
	for _, s := range t.Timeline {
		if s.T != nil {
			at = *s.T
		}
		if s.R < 0 {
			return 0, fmt.Errorf("a negative S@r (%d, open-ended repeats) is not in a static MPD", s.R)
		}
		for range s.R + 1 {
			if n++; n > maxDASHSegments {
				return 0, fmt.Errorf("more than %d segments", maxDASHSegments)
			}
			uri, err := expandTemplate(t.Media, repID, number, at)
			if err != nil {
				return 0, err
			}
			if err := add(uri); err != nil {
				return 0, err
			}
			number++
			at += s.D
		}
	}
	return n, nil
}

// expandTemplate substitutes $RepresentationID$, $Number$, $Time$ and $$
// in a SegmentTemplate attribute (ISO/IEC 23009-1 5.3.9.4.4); width
// formats such as $Number%05d$ are refused, the origin writes none.
func expandTemplate(tmpl, repID string, number int64, at uint64) (string, error) {
	var b strings.Builder
	rest := tmpl
	for {
		i := strings.IndexByte(rest, '$')
		if i < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		b.WriteString(rest[:i])
		j := strings.IndexByte(rest[i+1:], '$')
		if j < 0 {
			return "", fmt.Errorf("template %q: unterminated $", tmpl)
		}
		switch id := rest[i+1 : i+1+j]; id {
		case "":
			b.WriteByte('$')
		case "RepresentationID":
			b.WriteString(repID)
		case "Number":
			b.WriteString(strconv.FormatInt(number, 10))
		case "Time":
			b.WriteString(strconv.FormatUint(at, 10))
		default:
			return "", fmt.Errorf("template %q: identifier $%s$ is not supported", tmpl, id)
		}
		rest = rest[i+2+j:]
	}
}

// flatTemplate maps a template relative to the MPD at src to the flat
// name pattern of its files: the template's directories become
// underscores, as flatName does for the files themselves.
func flatTemplate(dir, src, tmpl string) (string, error) {
	_, plain, err := resolve(src, tmpl)
	if err != nil {
		return "", err
	}
	rel, ok := strings.CutPrefix(plain, dir)
	if !ok || rel == "" {
		return "", fmt.Errorf("%s is outside the endpoint", tmpl)
	}
	return strings.ReplaceAll(rel, "/", "_"), nil
}

// xmlUnescape undoes the entity escapes encoding/xml writes in an
// attribute value.
func xmlUnescape(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	return strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`, "&#39;", "'", "&#34;", `"`).Replace(s)
}
