package outputs_test

import (
	"encoding/json"
	"fmt"

	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/output/outputs"
)

func ExampleRedact() {
	reg := output.NewRegistry()
	outputs.Register(reg)
	payload := json.RawMessage(`{"ingestUrls":[{"url":"https://h/in/v2/abc/a/channel","username":"u","password":"secret"}]}`)
	fmt.Println(string(outputs.Redact("mediapackage", payload, reg)))

	_, err := reg.Build("mediapackage", json.RawMessage(`{"ingestUrls":[{"url":"ftp://h/channel"}]}`))
	fmt.Println(err)
	// Output:
	// {"ingestUrls":[{"password":"***","url":"https://h/in/v2/abc/a/channel","username":"u"}]}
	// output mediapackage: ingestUrls[0].url: must be http or https
}
