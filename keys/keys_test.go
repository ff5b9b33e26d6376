package keys

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pullpush/pullpush/internal/testutil"
)

func TestParseKID(t *testing.T) {
	want := "9f2c1a4e5b6d4e7f8a9b0c1d2e3f4a5b"
	for _, in := range []string{want, "9F2C1A4E5B6D4E7F8A9B0C1D2E3F4A5B", "9f2c1a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b", "0x" + want} {
		k, err := ParseKID(in)
		if err != nil || k.String() != want {
			t.Errorf("ParseKID(%q) = %v, %v", in, k, err)
		}
	}
	for _, in := range []string{"", "9f2c", want + "00", strings.Repeat("z", 32)} {
		if _, err := ParseKID(in); err == nil {
			t.Errorf("ParseKID(%q) succeeded", in)
		}
	}
	k, _ := ParseKID(want)
	if k.UUID() != "9f2c1a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b" {
		t.Errorf("UUID() = %s", k.UUID())
	}
}

func TestDeriveKID(t *testing.T) {
	a, b := DeriveKID("live", 7), DeriveKID("live", 7)
	if a != b {
		t.Fatal("DeriveKID not stable")
	}
	if a == DeriveKID("live", 8) || a == DeriveKID("news", 7) {
		t.Fatal("DeriveKID collides across periods or resources")
	}
	if a[6]>>4 != 4 || a[8]>>6 != 2 {
		t.Fatalf("not UUID v4 layout: %s", a.UUID())
	}
}

// secretHex is a key value that must never show up in output.
const secretHex = "00112233445566778899aabbccddeeff"

func mustSecret(t *testing.T, h string) Secret {
	t.Helper()
	s, err := ParseSecret(h)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// leaks reports whether s contains key material of v in a common encoding.
func leaks(s string, v Secret) bool {
	forms := []string{
		hex.EncodeToString(v[:]), strings.ToUpper(hex.EncodeToString(v[:])),
		base64.StdEncoding.EncodeToString(v[:]), base64.RawURLEncoding.EncodeToString(v[:]),
		fmt.Sprint(v[:]), string(v[:]),
	}
	for _, f := range forms {
		if strings.Contains(s, f) {
			return true
		}
	}
	return false
}

func TestSecretIsRedacted(t *testing.T) {
	v := mustSecret(t, secretHex)
	k := Key{ID: DeriveKID("live", 1), Value: v, URI: "https://k/1"}
	var out []string
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
		out = append(out, fmt.Sprintf(f, k), fmt.Sprintf(f, v), fmt.Sprintf(f, &k))
	}
	j, _ := json.Marshal(k)
	out = append(out, string(j))
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, nil))
	l.Info("x", "key", k, "value", v, "ptr", &k)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "key", k, "value", v)
	out = append(out, buf.String())
	for _, s := range out {
		if leaks(s, v) {
			t.Fatalf("key material in %q", s)
		}
	}
	if !bytes.Equal(v.Bytes(), mustHex(t, secretHex)) {
		t.Fatal("Bytes() does not return the key")
	}
	if _, err := ParseSecret("zz112233445566778899aabbccddeeff"); err == nil || strings.Contains(err.Error(), "zz11") {
		t.Fatalf("ParseSecret error must not quote the value: %v", err)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const staticYAML = `keys:
  - channel: live
    kid: 11111111111111111111111111111111
    key: 00112233445566778899aabbccddeeff
  - channel: live
    kid: 22222222-2222-2222-2222-222222222222
    key: 0x101112131415161718191a1b1c1d1e1f
    iv: 0f0e0d0c0b0a09080706050403020100
    uri: https://keys.example.com/live/2
  - kid: 33333333333333333333333333333333
    key: 202122232425262728292a2b2c2d2e2f
`

func TestStatic(t *testing.T) {
	s, err := ParseStatic([]byte(staticYAML))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ids := []string{}
	for p := int64(-1); p < 4; p++ {
		k, err := s.Key(ctx, "live", p)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, k.ID.String()[:2])
	}
	if got := strings.Join(ids, ","); got != "22,11,22,11,22" {
		t.Fatalf("rotation = %s", got)
	}
	k, _ := s.Key(ctx, "live", 1)
	if k.URI != "https://keys.example.com/live/2" || len(k.IV) != 16 || k.Value != mustSecret(t, "101112131415161718191a1b1c1d1e1f") {
		t.Fatalf("key 2 = %+v", k)
	}
	if k, err := s.Key(ctx, "other", 5); err != nil || k.ID.String()[:2] != "33" {
		t.Fatalf("wildcard: %v %v", k, err)
	}
	if _, ok := s.Lookup("live", k.ID); !ok {
		t.Fatal("Lookup of a wildcard key failed")
	}
	only, _ := ParseStatic([]byte("keys: [{channel: a, kid: 11111111111111111111111111111111, key: " + secretHex + "}]"))
	if _, err := only.Key(ctx, "b", 0); !errors.Is(err, ErrNoKey) {
		t.Fatalf("missing channel: %v", err)
	}
}

func TestStaticErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "no keys"},
		{"keys: [{kid: 11111111111111111111111111111111, key: " + secretHex + ", extra: 1}]", "field extra not found"},
		{"keys: [{kid: 1111, key: " + secretHex + "}]", "keys[0].kid"},
		{"keys: [{kid: 11111111111111111111111111111111, key: 0011}]", "keys[0].key: key: want 32 hex digits"},
		{"keys: [{kid: 11111111111111111111111111111111, key: " + secretHex + ", iv: 01}]", "keys[0].iv"},
		{"keys: [{channel: 'a b', kid: 11111111111111111111111111111111, key: " + secretHex + "}]", "keys[0].channel"},
		{"keys: [{kid: 11111111111111111111111111111111, key: " + secretHex + "}, {kid: 11111111111111111111111111111111, key: " + secretHex + "}]", "keys[1].kid: duplicate"},
		{"keys: [{kid: 11111111111111111111111111111111, key: 0g112233445566778899aabbccddeeff}]", "keys[0].key: key: not hexadecimal"},
		// A mis-indented key: yaml.v3 would quote its first 7 characters.
		{"keys: [" + secretHex + "]", "static keys: yaml: line 1: cannot unmarshal !!str into keys.StaticKey"},
		{"keys:\n- 0g1122334455\n- 0g1122\n", "yaml: line 2: cannot unmarshal !!str into keys.StaticKey; line 3: cannot unmarshal !!str into keys.StaticKey"},
	} {
		_, err := ParseStatic([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseStatic(%q) = %v, want error containing %q", tc.in, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), secretHex[:7]) || strings.Contains(err.Error(), "0g1122") {
			t.Errorf("error quotes a key value: %v", err)
		}
	}
	p := filepath.Join(t.TempDir(), "keys.yaml")
	os.WriteFile(p, []byte(staticYAML), 0o600)
	if _, err := LoadStaticFile(p); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadStaticFile(p + ".missing"); err == nil {
		t.Fatal("missing file accepted")
	}
}

// captureHandler records every log record as text.
type captureHandler struct {
	testutil.LockedBuffer
	h slog.Handler
}

func newCapture() *captureHandler {
	c := &captureHandler{}
	c.h = slog.NewTextHandler(&c.LockedBuffer, &slog.HandlerOptions{Level: slog.LevelDebug})
	return c
}

func newKeyServer(t *testing.T, cfg ServerConfig) (*Server, *httptest.Server) {
	t.Helper()
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return s, hs
}

func get(t *testing.T, url, bearer string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestSPEKEClientAndServer(t *testing.T) {
	capture := newCapture()
	const token = "t0ken-value"
	_, hs := newKeyServer(t, ServerConfig{Token: token, Logger: slog.New(capture.h)})
	ctx := context.Background()

	cli, err := NewSPEKE(SPEKEConfig{URL: hs.URL + SPEKEPath, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	k1, err := cli.Key(ctx, "live", 42)
	if err != nil {
		t.Fatal(err)
	}
	if k1.ID != DeriveKID("live", 42) || k1.Value == (Secret{}) {
		t.Fatalf("key = %v", k1)
	}
	if want := hs.URL + "/keys/live/" + k1.ID.String(); k1.URI != want {
		t.Fatalf("URI = %q, want %q", k1.URI, want)
	}
	again, _ := cli.Key(ctx, "live", 42)
	if again.Value != k1.Value {
		t.Fatal("server returned a different key for the same KID")
	}
	k2, _ := cli.Key(ctx, "live", 43)
	if k2.Value == k1.Value || k2.ID == k1.ID {
		t.Fatal("two periods share a key")
	}

	// Players fetch the raw key with the token as bearer or query.
	code, body := get(t, k1.URI, token)
	if code != http.StatusOK || !bytes.Equal(body, k1.Value.Bytes()) {
		t.Fatalf("GET key with bearer: %d %x", code, len(body))
	}
	code, body = get(t, k1.URI+"?token="+token, "")
	if code != http.StatusOK || !bytes.Equal(body, k1.Value.Bytes()) {
		t.Fatalf("GET key with ?token: %d", code)
	}
	for _, bad := range []struct{ url, bearer string }{{k1.URI, ""}, {k1.URI, "wrong"}, {k1.URI + "?token=wrong", ""}} {
		if code, body := get(t, bad.url, bad.bearer); code != http.StatusUnauthorized || bytes.Contains(body, k1.Value[:]) {
			t.Fatalf("GET %s bearer %q: %d", bad.url, bad.bearer, code)
		}
	}
	// Unknown key IDs are 404 (random keys are only served once issued).
	if code, _ := get(t, hs.URL+"/keys/live/"+DeriveKID("live", 99).String(), token); code != http.StatusNotFound {
		t.Fatalf("unknown kid: %d", code)
	}
	if code, _ := get(t, hs.URL+"/keys/live/nothex", token); code != http.StatusNotFound {
		t.Fatalf("bad kid: %d", code)
	}

	// SPEKE without the token fails with the status in the error.
	noTok, _ := NewSPEKE(SPEKEConfig{URL: hs.URL + SPEKEPath})
	if _, err := noTok.Key(ctx, "live", 1); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("no token: %v", err)
	}
	if strings.Contains(capture.String(), token) {
		t.Fatal("token logged")
	}
	for _, k := range []Key{k1, k2} {
		if leaks(capture.String(), k.Value) {
			t.Fatalf("key material logged:\n%s", capture.String())
		}
	}
	if !strings.Contains(capture.String(), k1.ID.String()) {
		t.Fatalf("key IDs should be logged:\n%s", capture.String())
	}
}

func TestServerDerivedKeysAndProvider(t *testing.T) {
	secret := []byte("a server secret of some length..")
	s1, hs1 := newKeyServer(t, ServerConfig{Secret: secret, PublicURL: "https://keys.example.com/"})
	s2, _ := newKeyServer(t, ServerConfig{Secret: secret})
	ctx := context.Background()
	k1, err := s1.Provider().Key(ctx, "live", 5)
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := s2.Provider().Key(ctx, "live", 5)
	if k1.Value != k2.Value || k1.ID != k2.ID {
		t.Fatal("derived keys differ between servers with the same secret")
	}
	if k1.URI != "https://keys.example.com/keys/live/"+k1.ID.String() {
		t.Fatalf("URI %q", k1.URI)
	}
	if k2.URI != "/keys/live/"+k2.ID.String() {
		t.Fatalf("relative URI %q", k2.URI)
	}
	// Any key ID has a derived key.
	code, body := get(t, hs1.URL+"/keys/other/"+DeriveKID("x", 1).String(), "")
	if code != http.StatusOK || len(body) != 16 {
		t.Fatalf("derived GET: %d", code)
	}
	if _, err := s1.Provider().Key(ctx, "*", 1); err == nil {
		t.Fatal("wildcard resource accepted")
	}
}

func TestServerStaticKeys(t *testing.T) {
	st, err := ParseStatic([]byte(staticYAML))
	if err != nil {
		t.Fatal(err)
	}
	_, hs := newKeyServer(t, ServerConfig{Static: st})
	kid, _ := ParseKID("11111111111111111111111111111111")
	code, body := get(t, hs.URL+"/keys/live/"+kid.String(), "")
	if code != http.StatusOK || hex.EncodeToString(body) != secretHex {
		t.Fatalf("static key: %d", code)
	}
	// CPIX for a static key returns its value and its own URI.
	cli, _ := NewSPEKE(SPEKEConfig{URL: hs.URL + "/cpix"})
	doc := newKeyRequest("live", mustKID(t, "22222222222222222222222222222222"), 3)
	resp := postCPIX(t, hs.URL+"/cpix", doc)
	k, err := keyFromResponse(resp, mustKID(t, "22222222222222222222222222222222"))
	if err != nil || k.URI != "https://keys.example.com/live/2" || k.Value != mustSecret(t, "101112131415161718191a1b1c1d1e1f") || len(k.IV) != 16 {
		t.Fatalf("static via CPIX: %+v %v", k, err)
	}
	_ = cli
}

func mustKID(t *testing.T, s string) KID {
	t.Helper()
	k, err := ParseKID(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func postCPIX(t *testing.T, url string, doc *CPIX) *CPIX {
	t.Helper()
	body, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url, "application/xml", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST CPIX: %d %s", resp.StatusCode, b)
	}
	out, err := ParseCPIX(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A SPEKE v1 live request as written by other packagers (with explicit IV
// and a FairPlay system next to AES-128) is answered: the IV is kept, the
// AES-128 system gets the key URI, FairPlay is left alone.
func TestServerAnswersForeignCPIX(t *testing.T) {
	_, hs := newKeyServer(t, ServerConfig{})
	req := `<?xml version="1.0" encoding="UTF-8"?>
<cpix:CPIX id="abc123" xmlns:cpix="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc" xmlns:speke="urn:aws:amazon:com:speke">
 <cpix:ContentKeyList><cpix:ContentKey kid="98ee5596-cd3e-a20d-163a-e382420c6eff" explicitIV="OFj2IjCsPJFfMAxmQxLGPw=="></cpix:ContentKey></cpix:ContentKeyList>
 <cpix:DRMSystemList>
  <cpix:DRMSystem kid="98ee5596-cd3e-a20d-163a-e382420c6eff" systemId="81376844-f976-481e-a84e-cc25d39b0b33"><cpix:URIExtXKey></cpix:URIExtXKey><speke:KeyFormat></speke:KeyFormat><speke:KeyFormatVersions></speke:KeyFormatVersions></cpix:DRMSystem>
  <cpix:DRMSystem kid="98ee5596-cd3e-a20d-163a-e382420c6eff" systemId="94ce86fb-07ff-4f43-adb8-93d2fa968ca2"><cpix:URIExtXKey></cpix:URIExtXKey></cpix:DRMSystem>
 </cpix:DRMSystemList>
 <cpix:ContentKeyPeriodList><cpix:ContentKeyPeriod id="keyPeriod_e64248f6" index="11425"/></cpix:ContentKeyPeriodList>
 <cpix:ContentKeyUsageRuleList><cpix:ContentKeyUsageRule kid="98ee5596-cd3e-a20d-163a-e382420c6eff"><cpix:KeyPeriodFilter periodId="keyPeriod_e64248f6"/></cpix:ContentKeyUsageRule></cpix:ContentKeyUsageRuleList>
</cpix:CPIX>`
	resp, err := http.Post(hs.URL+SPEKEPath, "application/xml", strings.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	doc, err := ParseCPIX(b)
	if err != nil {
		t.Fatal(err)
	}
	kid := mustKID(t, "98ee5596-cd3e-a20d-163a-e382420c6eff")
	k, err := keyFromResponse(doc, kid)
	if err != nil {
		t.Fatal(err)
	}
	if base64.StdEncoding.EncodeToString(k.IV) != "OFj2IjCsPJFfMAxmQxLGPw==" || !strings.HasSuffix(k.URI, "/keys/abc123/"+kid.String()) {
		t.Fatalf("key = %+v", k)
	}
	if len(doc.DRMSystems) != 2 || doc.DRMSystems[1].URIExtXKey != "" || len(doc.Periods) != 1 || doc.Periods[0].Index != 11425 ||
		len(doc.ContentKeyUses) != 1 || doc.ContentKeyUses[0].Filter.PeriodID != "keyPeriod_e64248f6" {
		t.Fatalf("response doc = %+v", doc)
	}
	// Bad requests.
	for _, body := range []string{"not xml", `<CPIX id="a b"><ContentKeyList><ContentKey kid="98ee5596cd3ea20d163ae382420c6eff"/></ContentKeyList></CPIX>`, `<CPIX id="a"></CPIX>`, `<CPIX id="a"><ContentKeyList><ContentKey kid="zz"/></ContentKeyList></CPIX>`} {
		resp, err := http.Post(hs.URL+SPEKEPath, "application/xml", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%q: %d", body, resp.StatusCode)
		}
	}
}

func TestSPEKEErrors(t *testing.T) {
	for _, u := range []string{"", "ftp://x/y", "http://user:pw@h/x", "::"} {
		if _, err := NewSPEKE(SPEKEConfig{URL: u}); err == nil {
			t.Errorf("NewSPEKE(%q) accepted", u)
		}
	}
	// A response without the requested key, or with a short key.
	bad := []string{
		`<CPIX id="live"><ContentKeyList></ContentKeyList></CPIX>`,
		`<CPIX id="live"><ContentKeyList><ContentKey kid="` + DeriveKID("live", 1).UUID() + `"><Data><Secret><PlainValue>AAEC</PlainValue></Secret></Data></ContentKey></ContentKeyList></CPIX>`,
		`garbage`,
	}
	for _, b := range bad {
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, b) }))
		cli, _ := NewSPEKE(SPEKEConfig{URL: hs.URL})
		if _, err := cli.Key(context.Background(), "live", 1); err == nil {
			t.Errorf("response %q accepted", b)
		}
		hs.Close()
	}
}

// FuzzParseCPIX checks that the CPIX parser used by the key server and the
// SPEKE client never panics and that what it accepts can be re-encoded
// and parsed again to the same document.
func FuzzParseCPIX(f *testing.F) {
	doc := newKeyRequest("live", DeriveKID("live", 1), 1)
	b, _ := doc.Marshal()
	f.Add(b)
	f.Add([]byte(`<CPIX id="a"><ContentKeyList><ContentKey kid="x"><Data><Secret><PlainValue>AA==</PlainValue></Secret></Data></ContentKey></ContentKeyList></CPIX>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := ParseCPIX(data)
		if err != nil {
			return
		}
		out, err := doc.Marshal()
		if err != nil {
			return // e.g. invalid UTF-8 names; never a panic
		}
		again, err := ParseCPIX(out)
		if err != nil {
			t.Fatalf("re-encoded document does not parse: %v\n%s", err, out)
		}
		if len(again.ContentKeys) != len(doc.ContentKeys) || len(again.DRMSystems) != len(doc.DRMSystems) {
			t.Fatalf("round trip changed the document")
		}
		for _, ck := range doc.ContentKeys {
			if kid, err := ParseKID(ck.KID); err == nil {
				keyFromResponse(doc, kid)
			}
		}
	})
}

// TestValidChannel pins validChannel to the rule it replaces,
// ^(\*|[A-Za-z0-9_.-]{1,128})$, at the length bounds and on odd input.
func TestValidChannel(t *testing.T) {
	want := regexp.MustCompile(`^(\*|[A-Za-z0-9_.-]{1,128})$`)
	for _, s := range []string{
		"", "*", "**", "a*", "ch-1", "a.b_c", "a/b", "a b", "é", "a\n", "\na", "a\x00",
		strings.Repeat("a", 127), strings.Repeat("a", 128), strings.Repeat("a", 129), strings.Repeat("-", 500),
	} {
		if got := validChannel(s); got != want.MatchString(s) {
			t.Errorf("validChannel(%q) = %v, want %v", s, got, !got)
		}
	}
}
