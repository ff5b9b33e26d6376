package origin_test

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/pullpush/pullpush/keys"
	"github.com/pullpush/pullpush/origin"
)

// An origin whose channel "live" is served as TS (as ingested, the
// default), as CMAF, and AES-128 encrypted with keys from an in-process
// key server mounted on the same mux (so players fetch /keys/... from the
// origin's host).
func Example_endpoints() {
	dir, err := os.MkdirTemp("", "origin")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ks, err := keys.NewServer(keys.ServerConfig{})
	if err != nil {
		log.Fatal(err)
	}
	o, err := origin.New(origin.Config{
		DataDir:     dir,
		KeyProvider: ks.Provider(), // key URIs /keys/{channel}/{kid}
		Channels: []origin.ChannelConfig{{
			ID: "live", Username: "pusher", Password: "secret",
			Endpoints: []origin.EndpointConfig{
				{ID: "ts"},
				{ID: "cmaf", Packaging: origin.PackagingCMAF},
				{ID: "aes", Encryption: &origin.EncryptionConfig{
					Method:              origin.MethodAES128,
					KeyRotationInterval: origin.Duration(5 * time.Minute),
				}},
			},
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer o.Close()
	mux := http.NewServeMux()
	mux.Handle("/in/", o.Handler())
	mux.Handle("/out/", o.Handler())
	mux.Handle(keys.KeysPath, ks.Handler())
	for _, ep := range []string{"ts", "cmaf", "aes"} {
		fmt.Println("/out/v1/live/" + ep + "/index.m3u8")
	}
	// Output:
	// /out/v1/live/ts/index.m3u8
	// /out/v1/live/cmaf/index.m3u8
	// /out/v1/live/aes/index.m3u8
}
