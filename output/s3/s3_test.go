package s3_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/pullpush/pullpush/internal/versitygw"
	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/output/outputtest"
	"github.com/pullpush/pullpush/output/s3"
)

const (
	accessKey = versitygw.AccessKey
	secretKey = versitygw.SecretKey
	bucket    = "live"
)

// gateway is a running versitygw with the posix backend.
type gateway struct {
	*versitygw.Gateway
	endpoint string
	root     string
}

// startGateway runs versitygw on a free loopback port and creates the bucket.
func startGateway(t *testing.T) *gateway {
	t.Helper()
	g := versitygw.Start(t, bucket)
	return &gateway{Gateway: g, endpoint: g.Endpoint, root: g.Root}
}

func (g *gateway) client(t *testing.T) *minio.Client { return g.Client(t) }

// observer is a reverse proxy in front of the gateway that counts request
// body bytes, so the contract suite can check that bodies are streamed.
type observer struct {
	*httptest.Server
	mu       sync.Mutex
	inflight map[string]*atomic.Int64
	lengths  map[string]int64
}

func newObserver(t *testing.T, upstream string) *observer {
	u, _ := url.Parse(upstream)
	proxy := httputil.NewSingleHostReverseProxy(u)
	o := &observer{inflight: make(map[string]*atomic.Int64), lengths: make(map[string]int64)}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			n := new(atomic.Int64)
			// With streaming signatures the body carries chunk
			// signatures; the declared file size is this header.
			length := r.ContentLength
			if d := r.Header.Get("X-Amz-Decoded-Content-Length"); d != "" {
				length, _ = strconv.ParseInt(d, 10, 64)
			}
			o.mu.Lock()
			o.inflight[r.URL.Path] = n
			o.lengths[r.URL.Path] = length
			o.mu.Unlock()
			r.Body = &countingBody{ReadCloser: r.Body, n: n}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(o.Close)
	return o
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	k, err := c.ReadCloser.Read(p)
	c.n.Add(int64(k))
	return k, err
}

// reader reads objects back through a plain client.
type reader struct {
	c      *minio.Client
	prefix string
	obs    *observer
}

func (r reader) Get(t testing.TB, target int, name string) (outputtest.Object, bool) {
	t.Helper()
	ctx := context.Background()
	key := r.prefix + name
	st, err := r.c.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
	if err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return outputtest.Object{}, false
		}
		t.Fatalf("stat %s: %v", key, err)
	}
	obj, err := r.c.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return outputtest.Object{Data: data, ContentType: st.ContentType, CacheControl: st.Metadata.Get("Cache-Control")}, true
}

func (r reader) KeepsMetadata() (bool, bool) { return true, true }

func (r reader) RequestContentLength(target int, name string) (int64, bool) {
	r.obs.mu.Lock()
	defer r.obs.mu.Unlock()
	n, ok := r.obs.lengths["/"+bucket+"/"+r.prefix+name]
	return n, ok
}

func (r reader) Received(target int, name string) int64 {
	r.obs.mu.Lock()
	defer r.obs.mu.Unlock()
	if n := r.obs.inflight["/"+bucket+"/"+r.prefix+name]; n != nil {
		return n.Load()
	}
	return 0
}

func TestVersityGW(t *testing.T) {
	g := startGateway(t)
	obs := newObserver(t, g.endpoint)
	check := g.client(t)
	var seq atomic.Int64

	newS3 := func(t *testing.T, cfg s3.Config) *s3.Output {
		t.Helper()
		o, err := s3.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { o.Close() })
		return o
	}
	base := func(endpoint string) s3.Config {
		return s3.Config{Bucket: bucket, Region: "us-east-1", Endpoint: endpoint,
			AccessKeyID: accessKey, SecretAccessKey: secretKey, PathStyle: true,
			Prefix: fmt.Sprintf("t%d", seq.Add(1))}
	}

	t.Run("Contract", func(t *testing.T) {
		outputtest.Run(t, func(t *testing.T) (output.Output, outputtest.Reader) {
			cfg := base(obs.URL)
			o, err := s3.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			return o, reader{c: check, prefix: cfg.Prefix + "/", obs: obs}
		})
	})

	t.Run("ObjectsOnDisk", func(t *testing.T) {
		cfg := base(g.endpoint)
		cfg.Prefix = "channels/1/"
		cfg.Stem = "live"
		o := newS3(t, cfg)
		if o.Stem() != "live" {
			t.Errorf("Stem() = %q", o.Stem())
		}
		tg := o.Targets()[0]
		if want := "s3 " + g.endpoint + "/" + bucket + "/channels/1/"; tg.Name() != want {
			t.Errorf("Name() = %q, want %q", tg.Name(), want)
		}
		f := outputtest.BytesFile("live_720p_1.ts", "video/mp2t", []byte("segment"))
		f.CacheControl = "max-age=31536000, immutable"
		if err := tg.Put(t.Context(), f); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(g.root, bucket, "channels", "1", "live_720p_1.ts"))
		if err != nil || string(data) != "segment" {
			t.Fatalf("on disk: %q, %v", data, err)
		}
		st, err := check.StatObject(t.Context(), bucket, "channels/1/live_720p_1.ts", minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st.ContentType != "video/mp2t" || st.Metadata.Get("Cache-Control") != f.CacheControl {
			t.Errorf("Content-Type %q, Cache-Control %q", st.ContentType, st.Metadata.Get("Cache-Control"))
		}
		if err := tg.Delete(t.Context(), "live_720p_1.ts"); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(g.root, bucket, "channels", "1", "live_720p_1.ts")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("object still on disk: %v", err)
		}
	})

	t.Run("RegionDiscovery", func(t *testing.T) {
		cfg := base(g.endpoint)
		cfg.Region = ""
		cfg.PathStyle = false
		o := newS3(t, cfg)
		if err := o.Targets()[0].Put(t.Context(), outputtest.BytesFile("channel.m3u8", "application/vnd.apple.mpegurl", []byte("#EXTM3U\n"))); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("LargerThanPartSize", func(t *testing.T) {
		// minio-go would switch to buffered multipart above 16 MiB; files
		// of known size stay one streamed PutObject.
		cfg := base(obs.URL)
		o := newS3(t, cfg)
		g := outputtest.NewGenerated("channel_1080p_1.ts", 17<<20, 3)
		if err := o.Targets()[0].Put(t.Context(), g.File()); err != nil {
			t.Fatal(err)
		}
		r := reader{c: check, prefix: cfg.Prefix + "/", obs: obs}
		if n, _ := r.RequestContentLength(0, g.Name); n != 17<<20 {
			t.Errorf("single request of %d bytes, want %d", n, 17<<20)
		}
		obj, ok := r.Get(t, 0, g.Name)
		if !ok || len(obj.Data) != 17<<20 {
			t.Fatalf("stored %d bytes", len(obj.Data))
		}
	})

	t.Run("WrongSecret", func(t *testing.T) {
		cfg := base(g.endpoint)
		cfg.SecretAccessKey = "wrong-Secret-Key-123"
		o := newS3(t, cfg)
		err := o.Targets()[0].Put(t.Context(), outputtest.BytesFile("channel.m3u8", "", []byte("x")))
		var se *output.StatusError
		if !errors.As(err, &se) || se.StatusCode != http.StatusForbidden {
			t.Fatalf("Put = %v, want a 403 StatusError", err)
		}
		if strings.Contains(err.Error(), cfg.SecretAccessKey) {
			t.Errorf("error leaks the secret: %v", err)
		}
		if err := o.Targets()[0].Delete(t.Context(), "channel.m3u8"); err == nil || strings.Contains(err.Error(), cfg.SecretAccessKey) {
			t.Errorf("Delete = %v", err)
		}
	})

	t.Run("MissingBucket", func(t *testing.T) {
		cfg := base(g.endpoint)
		cfg.Bucket = "no-such-bucket"
		o := newS3(t, cfg)
		err := o.Targets()[0].Put(t.Context(), outputtest.BytesFile("channel.m3u8", "", []byte("x")))
		if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "NoSuchBucket") {
			t.Errorf("Put = %v, want 404 NoSuchBucket", err)
		}
		if err := o.Targets()[0].Delete(t.Context(), "channel.m3u8"); err == nil {
			t.Error("Delete in a missing bucket succeeded")
		}
	})
}

func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	o, err := s3.New(s3.Config{Bucket: bucket, Region: "us-east-1", Endpoint: "http://" + addr, AccessKeyID: "a", SecretAccessKey: "secret-Key-999", PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	err = o.Targets()[0].Put(t.Context(), outputtest.BytesFile("channel.m3u8", "", []byte("x")))
	if err == nil || strings.Contains(err.Error(), "secret-Key-999") {
		t.Errorf("Put = %v", err)
	}
}

var payloadCases = []struct{ name, payload, err string }{
	{"minimal", `{"bucket":"live"}`, ""},
	{"full", `{"bucket":"live","prefix":"a/b","region":"eu-west-1","endpoint":"https://s3.eu-west-1.amazonaws.com","accessKeyId":"AK","secretAccessKey":"SK","sessionToken":"ST","pathStyle":true,"stem":"live"}`, ""},
	{"http endpoint", `{"bucket":"live","endpoint":"http://127.0.0.1:9000","accessKeyId":"k","secretAccessKey":"s"}`, ""},
	{"bare endpoint", `{"bucket":"live","endpoint":"minio.example.com:9000"}`, ""},
	{"absent", ``, "bucket: required"},
	{"unknown", `{"bucket":"live","secretKey":"s"}`, "secretKey: unknown field"},
	{"bucket name", `{"bucket":"Bad_Bucket"}`, "bucket: not a valid bucket name"},
	{"bucket type", `{"bucket":true}`, "bucket: must be a string"},
	{"prefix traversal", `{"bucket":"live","prefix":"a/../b"}`, "prefix: elements must be names of [A-Za-z0-9._-] not starting with a dot, separated by single slashes"},
	{"prefix double slash", `{"bucket":"live","prefix":"a//b"}`, "prefix: elements must be names of [A-Za-z0-9._-] not starting with a dot, separated by single slashes"},
	{"region", `{"bucket":"live","region":"EU West"}`, "region: must be a region name such as eu-west-1"},
	{"endpoint scheme", `{"bucket":"live","endpoint":"ftp://h"}`, "endpoint: must be http or https"},
	{"endpoint credentials", `{"bucket":"live","endpoint":"http://k:s@h"}`, "endpoint: must not contain credentials"},
	{"endpoint path", `{"bucket":"live","endpoint":"http://h/live"}`, "endpoint: must be a scheme and host only, without path or query"},
	{"endpoint host", `{"bucket":"live","endpoint":"http://"}`, "endpoint: must have a host"},
	{"endpoint url", `{"bucket":"live","endpoint":"http://h:port"}`, "endpoint: not a valid URL"},
	{"secret missing", `{"bucket":"live","accessKeyId":"k"}`, "secretAccessKey: required when accessKeyId is set"},
	{"access key missing", `{"bucket":"live","secretAccessKey":"s"}`, "accessKeyId: required when secretAccessKey is set"},
	{"token alone", `{"bucket":"live","sessionToken":"t"}`, "sessionToken: needs accessKeyId and secretAccessKey"},
	{"pathStyle type", `{"bucket":"live","pathStyle":"yes"}`, "pathStyle: must be a boolean"},
	{"stem", `{"bucket":"live","stem":"a/b"}`, "stem: must be a name of [A-Za-z0-9._-] not starting with a dot"},
	// hls-pull-push's README example, without the two trailing commas
	// that make it invalid JSON there too.
	{"hls-pull-push README", `{
    "bucket": "lab-live-output",
    "folder": "S3_PLUGIN_CONTENT"
  }`, ""},
	// hls-pull-push's plugin schema example: every key is accepted; the
	// placeholder bucket name is refused as S3 would refuse it.
	{"hls-pull-push schema example", `{"bucket":"S3_BUCKET_NAME","folder":"S3_FOLDER_BUCKET_NAME","timeoutMs":5000}`, "bucket: not a valid bucket name"},
	{"folder", `{"bucket":"live","folder":"a/b"}`, ""},
	{"folder equal to prefix", `{"bucket":"live","prefix":"a/b/","folder":"/a/b"}`, ""},
	{"folder conflicts with prefix", `{"bucket":"live","prefix":"a","folder":"b"}`, "folder: differs from prefix: both name the key prefix (folder is hls-pull-push's name for it); give one of them"},
	{"folder traversal", `{"bucket":"live","folder":"../x"}`, "folder: elements must be names of [A-Za-z0-9._-] not starting with a dot, separated by single slashes"},
	{"folder type", `{"bucket":"live","folder":1}`, "folder: must be a string"},
	{"outputIndexFilename", `{"bucket":"live","folder":"f","outputIndexFilename":"index.m3u8"}`, ""},
	{"outputIndexFilename default name", `{"bucket":"live","stem":"live","outputIndexFilename":"live.m3u8"}`, ""},
	{"outputIndexFilename folder", `{"bucket":"live","outputIndexFilename":"a/index.m3u8"}`, "outputIndexFilename: must be a name of [A-Za-z0-9._-] not starting with a dot, without a folder"},
	{"outputIndexFilename rendition", `{"bucket":"live","outputIndexFilename":"channel_720p.m3u8"}`, `outputIndexFilename: must not start with "channel_": media playlists and segments have such names`},
	{"timeoutMs", `{"bucket":"live","timeoutMs":5000}`, ""},
	{"timeoutMs fraction", `{"bucket":"live","timeoutMs":2.5}`, ""},
	{"timeoutMs negative", `{"bucket":"live","timeoutMs":-1}`, "timeoutMs: must be a number of milliseconds from 0 to 3600000 (0 or absent: the default)"},
	{"timeoutMs too large", `{"bucket":"live","timeoutMs":3600001}`, "timeoutMs: must be a number of milliseconds from 0 to 3600000 (0 or absent: the default)"},
	{"timeoutMs type", `{"bucket":"live","timeoutMs":"5000"}`, "timeoutMs: must be a number"},
	{"unknown near a known key", `{"bucket":"live","folderName":"f"}`, "folderName: unknown field"},
}

func TestPayload(t *testing.T) {
	for _, c := range payloadCases {
		t.Run(c.name, func(t *testing.T) {
			// No environment: the cases must not depend on the machine's.
			o, err := s3.NewFactory(nil).New(json.RawMessage(c.payload))
			if c.err == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				o.Close()
				return
			}
			if err == nil {
				o.Close()
				t.Fatalf("accepted, want %q", c.err)
			}
			if err.Error() != c.err || !errors.Is(err, output.ErrInvalidPayload) {
				t.Errorf("error = %q, want %q wrapping ErrInvalidPayload", err, c.err)
			}
		})
	}
}

// TestHLSPullPushPayload builds an output from the payload of
// hls-pull-push's README (bucket and folder only), with the endpoint,
// region and credentials from the environment as hls-pull-push takes
// them, and checks what folder, outputIndexFilename and timeoutMs do.
func TestHLSPullPushPayload(t *testing.T) {
	g := versitygw.Start(t, "lab-live-output")
	t.Setenv("AWS_ACCESS_KEY_ID", accessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secretKey)
	env := map[string]string{"AWS_ENDPOINT_URL_S3": g.Endpoint, "AWS_REGION": versitygw.Region}
	f := s3.NewFactory(func(k string) string { return env[k] })
	o, err := f.New(json.RawMessage(`{"bucket":"lab-live-output","folder":"S3_PLUGIN_CONTENT","outputIndexFilename":"index.m3u8","timeoutMs":5000}`))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if d := output.SegmentTimeout(o); d != 5*time.Second {
		t.Errorf("SegmentTimeout = %v, want 5s", d)
	}
	tg := o.Targets()[0]
	for _, name := range []string{"channel.m3u8", "channel_0.m3u8", "channel_0_1.ts"} {
		if err := tg.Put(t.Context(), outputtest.BytesFile(name, "", []byte(name))); err != nil {
			t.Fatal(err)
		}
	}
	check := g.Client(t)
	get := func(key string) (string, bool) {
		obj, err := check.GetObject(t.Context(), "lab-live-output", key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer obj.Close()
		data, err := io.ReadAll(obj)
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return "", false
		}
		if err != nil {
			t.Fatalf("get %s: %v", key, err)
		}
		return string(data), true
	}
	for key, want := range map[string]string{
		"S3_PLUGIN_CONTENT/index.m3u8":     "channel.m3u8",
		"S3_PLUGIN_CONTENT/channel_0.m3u8": "channel_0.m3u8",
		"S3_PLUGIN_CONTENT/channel_0_1.ts": "channel_0_1.ts",
	} {
		if got, ok := get(key); !ok || got != want {
			t.Errorf("%s = %q (found %v), want %q", key, got, ok, want)
		}
	}
	if _, ok := get("S3_PLUGIN_CONTENT/channel.m3u8"); ok {
		t.Error("the multivariant playlist was also stored as channel.m3u8")
	}
	if err := tg.Delete(t.Context(), "channel.m3u8"); err != nil {
		t.Fatal(err)
	}
	if _, ok := get("S3_PLUGIN_CONTENT/index.m3u8"); ok {
		t.Error("Delete of channel.m3u8 left index.m3u8")
	}

	// A payload endpoint wins over the environment's.
	env["AWS_ENDPOINT_URL_S3"] = "http://127.0.0.1:1"
	o2, err := f.New(json.RawMessage(`{"bucket":"lab-live-output","folder":"S3_PLUGIN_CONTENT","endpoint":"` + g.Endpoint + `"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer o2.Close()
	if err := o2.Targets()[0].Put(t.Context(), outputtest.BytesFile("channel.m3u8", "", []byte("x"))); err != nil {
		t.Fatalf("payload endpoint not used: %v", err)
	}
	if d := output.SegmentTimeout(o2); d != 0 {
		t.Errorf("SegmentTimeout without timeoutMs = %v, want 0", d)
	}
}

func TestEnvironmentDefaults(t *testing.T) {
	cases := []struct{ name, key, value, err string }{
		{"endpoint", "AWS_ENDPOINT_URL", "http://127.0.0.1:9000", ""},
		{"bad endpoint", "AWS_ENDPOINT_URL_S3", "ftp://h", "endpoint: absent, and the default from $AWS_ENDPOINT_URL_S3 is not usable: must be http or https"},
		{"region", "AWS_DEFAULT_REGION", "eu-north-1", ""},
		{"bad region", "AWS_REGION", "EU North", "region: absent, and the default from $AWS_REGION is not a region name such as eu-west-1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := s3.NewFactory(func(k string) string {
				if k == c.key {
					return c.value
				}
				return ""
			})
			o, err := f.New(json.RawMessage(`{"bucket":"live","accessKeyId":"k","secretAccessKey":"s"}`))
			if c.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				o.Close()
				return
			}
			if err == nil || err.Error() != c.err || !errors.Is(err, output.ErrInvalidPayload) {
				t.Errorf("error = %v, want %q", err, c.err)
			}
		})
	}
}

func TestSchema(t *testing.T) {
	outputtest.CheckSchema(t, s3.Factory, s3.Payload{})
}

func FuzzS3Payload(f *testing.F) {
	for _, c := range payloadCases {
		f.Add([]byte(c.payload))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		outputtest.CheckPayload(t, s3.Factory, payload)
	})
}
