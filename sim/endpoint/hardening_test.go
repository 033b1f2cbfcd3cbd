package endpoint_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshsim/meshsim/sim"
	"github.com/meshsim/meshsim/sim/appmesh"
	"github.com/meshsim/meshsim/sim/awsproto"
	"github.com/meshsim/meshsim/sim/cloudmap"
	"github.com/meshsim/meshsim/sim/endpoint"
	"github.com/meshsim/meshsim/sim/events"
)

// awsError is an error answer as the SDKs read it: the code from
// X-Amzn-Errortype or the body's "__type", the message from the body.
type awsError struct {
	status        int
	code, message string
	contentType   string
}

func readAWSError(t *testing.T, resp *http.Response) awsError {
	t.Helper()
	defer resp.Body.Close()
	var body struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("HTTP %d body %q is not JSON: %v", resp.StatusCode, b, err)
	}
	code := resp.Header.Get("X-Amzn-Errortype")
	if code == "" {
		code = body.Type
	}
	return awsError{resp.StatusCode, code, body.Message, resp.Header.Get("Content-Type")}
}

// request is one raw request to the endpoint in one of the three protocols.
type request struct {
	name, method, path, target string
	body                       []byte
}

func (r request) send(t *testing.T, url string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(r.method, url+r.path, bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if r.target != "" {
		req.Header.Set("X-Amz-Target", r.target)
		req.Header.Set("Content-Type", awsproto.JSON11)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// Bodies the decoders must refuse, in each protocol, with the service's
// error shape: not UTF-8 (encoding/json would store U+FFFD in its place),
// larger than 16 MiB.
func TestMalformedBodies(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := sim.Start(ctx, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	badUTF8 := []byte("{\"family\":\"a\xffb\",\"Name\":\"a\xffb\",\"meshName\":\"a\xffb\"}")
	huge := append([]byte(`{"Name":"`), bytes.Repeat([]byte("x"), awsproto.MaxBodyBytes)...)
	huge = append(huge, `"}`...)
	ops := []request{
		{name: "ECS", method: http.MethodPost, path: "/", target: "AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition"},
		{name: "Cloud Map", method: http.MethodPost, path: "/", target: "Route53AutoNaming_v20170314.CreateHttpNamespace"},
		{name: "App Mesh", method: http.MethodPut, path: "/v20190125/meshes"},
	}
	tests := []struct {
		body      []byte
		status    int
		codes     map[string]string // by service
		inMessage string
	}{
		{badUTF8, http.StatusBadRequest, map[string]string{"ECS": "ClientException", "Cloud Map": "InvalidInput", "App Mesh": "BadRequestException"},
			"not valid UTF-8"},
		{huge, http.StatusRequestEntityTooLarge, map[string]string{"ECS": "RequestEntityTooLargeException",
			"Cloud Map": "RequestEntityTooLargeException", "App Mesh": "RequestEntityTooLargeException"}, "larger than the limit"},
	}
	for _, tt := range tests {
		for _, op := range ops {
			t.Run(op.name+"/"+tt.inMessage, func(t *testing.T) {
				op.body = tt.body
				got := readAWSError(t, op.send(t, w.Endpoint))
				if got.status != tt.status || got.code != tt.codes[op.name] || !strings.Contains(got.message, tt.inMessage) {
					t.Errorf("got %+v, want %d %s %q", got, tt.status, tt.codes[op.name], tt.inMessage)
				}
			})
		}
	}
	// Nothing was created under a mangled name.
	resp := request{method: http.MethodGet, path: "/v20190125/meshes"}.send(t, w.Endpoint)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(b), "\ufffd") || !strings.Contains(string(b), `"meshes":[]`) {
		t.Errorf("ListMeshes after malformed creates: %s", b)
	}
}

// serve starts an endpoint with App Mesh and Cloud Map on a loopback
// listener, as sim.Start does, with the given limits.
func serve(t *testing.T, configure func(*endpoint.Endpoint)) string {
	t.Helper()
	bus := events.NewBus(0)
	ep := endpoint.New(bus)
	cm := cloudmap.New(cloudmap.Options{Bus: bus})
	ep.HandleTarget(cloudmap.TargetPrefix, cm)
	ep.HandlePath(appmesh.PathPrefix, appmesh.New(appmesh.Options{Bus: bus}))
	configure(ep)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := ep.Server()
	go func() { _ = srv.Serve(endpoint.Listener(ln)) }()
	t.Cleanup(func() {
		_ = srv.Close()
		_ = cm.Close()
	})
	return ln.Addr().String()
}

// dial opens a raw connection that fails the test rather than hang: every
// read and write must finish within a minute.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	return c
}

// A client that trickles its body, or its headers, cannot hold a
// connection: the body gets a 408 in the service's error shape once the
// body timeout passes, the headers a closed connection. The client here
// never finishes, so only the timeouts can end the wait; they are short so
// that the test is quick, and nothing depends on how quick.
func TestSlowClients(t *testing.T) {
	addr := serve(t, func(ep *endpoint.Endpoint) {
		ep.BodyTimeout = 100 * time.Millisecond
		ep.HeaderTimeout = 100 * time.Millisecond
	})
	bodies := []struct {
		name, head string
	}{
		{"JSON 1.1", "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Route53AutoNaming_v20170314.CreateHttpNamespace\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 1000\r\n\r\n"},
		{"REST-JSON", "PUT /v20190125/meshes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"},
	}
	for _, tt := range bodies {
		t.Run("body/"+tt.name, func(t *testing.T) {
			c := dial(t, addr)
			if _, err := io.WriteString(c, tt.head+`{"Name":"a`); err != nil {
				t.Fatal(err)
			}
			// Keep trickling a byte at a time until the server answers.
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				tick := time.NewTicker(20 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						if _, err := c.Write([]byte("a")); err != nil {
							return
						}
					}
				}
			}()
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no answer to a trickled body: %v", err)
			}
			got := readAWSError(t, resp)
			if got.status != http.StatusRequestTimeout || got.code != "RequestTimeoutException" || !resp.Close {
				t.Errorf("got %+v (close %v), want 408 RequestTimeoutException and the connection closed", got, resp.Close)
			}
		})
	}
	t.Run("headers", func(t *testing.T) {
		c := dial(t, addr)
		if _, err := io.WriteString(c, "GET /v20190125/meshes HTTP/1.1\r\nHost: x\r\n"); err != nil {
			t.Fatal(err)
		}
		// The headers never end: the server must hang up.
		b, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("connection with unfinished headers not closed: %v (read %q)", err, b)
		}
	})
}

// What net/http refuses before any handler sees it still gets an AWS-shaped
// answer.
func TestMalformedRequestLines(t *testing.T) {
	addr := serve(t, func(*endpoint.Endpoint) {})
	tests := []struct {
		name, request string
		status        int
		code          string
	}{
		{"bad escape in an App Mesh path", "GET /v20190125/meshes/%ZZ HTTP/1.1\r\nHost: x\r\n\r\n", 400, "BadRequestException"},
		{"bad escape in a route path", "DELETE /v20190125/meshes/m/virtualRouter/%zz/routes/r HTTP/1.1\r\nHost: x\r\n\r\n", 400, "BadRequestException"},
		{"no Host", "GET /v20190125/meshes HTTP/1.1\r\n\r\n", 400, "BadRequestException"},
		{"header too large", "GET /v20190125/meshes HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 2<<20) + "\r\n\r\n", 431, "RequestHeaderFieldsTooLargeException"},
		{"unknown transfer coding", "PUT /v20190125/meshes HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: zip\r\n\r\n", 501, "NotImplementedException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, addr)
			go func() { _, _ = io.WriteString(c, tt.request) }() // the server may answer before it reads everything
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			got := readAWSError(t, resp)
			if got.status != tt.status || got.code != tt.code || got.contentType != "application/json" || got.message == "" {
				t.Errorf("got %+v, want %d %s as JSON with a message", got, tt.status, tt.code)
			}
		})
	}
}
