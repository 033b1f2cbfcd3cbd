package engine

import (
	"bytes"
	"fmt"
	"net/http"
	"os"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/meshsim/meshsim/loadgen"
	"github.com/meshsim/meshsim/scenarios"
)

// httpRequests are the user's HTTP requests of the scenario's load: its
// weighted requests, or the targets of its vegeta targets file (read by
// vegeta's own targeter); nil when the load is the plain path.
func httpRequests(l scenarios.Load) ([]loadgen.HTTPRequest, error) {
	if l.TargetsFile != "" {
		data, err := os.ReadFile(l.TargetsFile)
		if err != nil {
			return nil, fmt.Errorf("load.targetsFile: %w", err)
		}
		reqs, err := loadgen.RequestsFromTargets(vegeta.NewHTTPTargeter(bytes.NewReader(data), nil, nil))
		if err != nil {
			return nil, fmt.Errorf("load.targetsFile %s: %w", l.TargetsFile, err)
		}
		return reqs, nil
	}
	var reqs []loadgen.HTTPRequest
	for _, r := range l.Requests {
		h := http.Header{}
		for k, v := range r.Headers {
			h.Set(k, v)
		}
		method := r.Method
		if method == "" {
			method = http.MethodGet
		}
		reqs = append(reqs, loadgen.HTTPRequest{Method: method, Path: r.Path, Header: h, Body: []byte(r.Body), Weight: float64(r.Weight)})
	}
	return reqs, nil
}
