package chaos_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/pullpush/pullpush/internal/chaos"
)

// A destination that fails its first two PUTs, then recovers.
func Example() {
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
	}))
	defer dest.Close()

	u, _ := url.Parse(dest.URL)
	p := chaos.New(u, chaos.WithSeed(1))
	defer p.Close()
	if err := p.SetRules([]chaos.Rule{
		{Name: "first-puts", Fault: chaos.FaultStatus, Status: 503, Methods: []string{"PUT"}, Count: 2},
	}); err != nil {
		fmt.Println(err)
		return
	}
	proxy := httptest.NewServer(p)
	defer proxy.Close()

	for range 3 {
		req, _ := http.NewRequest(http.MethodPut, proxy.URL+"/live/seg1.ts", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}
	for _, ev := range p.Events() {
		fmt.Printf("%d %s %s rule=%q fault=%q status=%d\n", ev.Seq, ev.Method, ev.Path, ev.Rule, ev.Fault, ev.Status)
	}
	fmt.Println("injected:", p.Stats().Faults[chaos.FaultStatus])
	// Output:
	// 503
	// 503
	// 201
	// 1 PUT /live/seg1.ts rule="first-puts" fault="status" status=503
	// 2 PUT /live/seg1.ts rule="first-puts" fault="status" status=503
	// 3 PUT /live/seg1.ts rule="" fault="" status=201
	// injected: 2
}
