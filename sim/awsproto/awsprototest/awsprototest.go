// Package awsprototest drives a fake's real handler with one request and
// checks the answer as any AWS client would need it: for tests and fuzz
// targets of the fakes' decoders.
package awsprototest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meshsim/meshsim/sim/awsproto"
)

// Request is one API request: JSON 1.1 when Target is set (POST / with
// X-Amz-Target), REST-JSON otherwise.
type Request struct {
	Method, Path, Target string
	Body                 []byte
}

// Do serves r with h and checks the answer: never a 5xx; a success is JSON;
// an error carries its code (X-Amzn-Errortype or "__type") and a message in
// a JSON body. It returns the status and the body. A request that net/http
// could not even parse (an invalid path) is not sent; Do returns 0.
func Do(tb testing.TB, h http.Handler, r Request) (int, []byte) {
	tb.Helper()
	method, path := r.Method, r.Path
	if r.Target != "" {
		method, path = http.MethodPost, "/"
	}
	req, err := http.NewRequest(method, "http://fakes"+path, bytes.NewReader(r.Body))
	if err != nil {
		return 0, nil
	}
	if r.Target != "" {
		req.Header.Set("X-Amz-Target", r.Target)
		req.Header.Set("Content-Type", awsproto.JSON11)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	status, body := rec.Code, rec.Body.Bytes()
	if status >= 500 {
		tb.Fatalf("%s %s %s %q: HTTP %d %s", method, path, r.Target, r.Body, status, body)
	}
	if !strings.Contains(rec.Header().Get("Content-Type"), "json") {
		tb.Fatalf("%s %s %s %q: HTTP %d with Content-Type %q", method, path, r.Target, r.Body, status, rec.Header().Get("Content-Type"))
	}
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		tb.Fatalf("%s %s %s %q: HTTP %d body is not a JSON object: %v: %s", method, path, r.Target, r.Body, status, err, body)
	}
	if status < 400 {
		return status, body
	}
	code := rec.Header().Get("X-Amzn-Errortype")
	if code == "" {
		code, _ = v["__type"].(string)
	}
	msg, _ := v["message"].(string)
	if msg == "" {
		msg, _ = v["Message"].(string)
	}
	if code == "" || msg == "" {
		tb.Fatalf("%s %s %s %q: HTTP %d error without a code or a message: %s", method, path, r.Target, r.Body, status, body)
	}
	return status, body
}
