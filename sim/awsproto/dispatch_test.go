package awsproto

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type echoInput struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

func TestJSONRPC(t *testing.T) {
	d := &JSONRPC{Service: "Demo", TargetPrefix: "Demo_2020", MessageKey: "message", BadRequest: "InvalidParameterException", Internal: "ServerException"}
	d.Handle("Echo", Typed(func(c *Call, in *echoInput) (any, error) {
		return map[string]any{"op": c.Operation, "region": c.Region, "name": in.Name, "count": in.Count}, nil
	}))
	d.Handle("Fail", func(c *Call) (any, error) { return nil, Errorf(0, "NotFoundException", "no %s", "thing") })
	tests := []struct {
		name, method, target, body string
		status                     int
		code, inBody               string
	}{
		{"echo", "POST", "Demo_2020.Echo", `{"name":"a","count":2}`, 200, "", `"count":2`},
		{"empty body", "POST", "Demo_2020.Echo", ``, 200, "", `"name":""`},
		{"operation's error, status 400 by default", "POST", "Demo_2020.Fail", `{}`, 400, "NotFoundException", `"message":"no thing"`},
		{"bad JSON", "POST", "Demo_2020.Echo", `{"name":`, 400, "InvalidParameterException", "not valid JSON"},
		{"wrong type", "POST", "Demo_2020.Echo", `{"count":"x"}`, 400, "InvalidParameterException", `field \"count\"`},
		{"unknown operation", "POST", "Demo_2020.Nope", `{}`, 400, CodeUnknownOperation, "does not implement Nope"},
		{"other prefix", "POST", "Other_2020.Echo", `{}`, 400, CodeUnknownOperation, "is not a Demo operation"},
		{"GET", "GET", "Demo_2020.Echo", ``, 400, CodeUnknownOperation, "POST requests, not GET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/", strings.NewReader(tt.body))
			r.Header.Set("X-Amz-Target", tt.target)
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/demo/aws4_request")
			w := httptest.NewRecorder()
			d.ServeHTTP(w, r)
			if w.Code != tt.status || w.Header().Get("X-Amzn-Errortype") != tt.code || !strings.Contains(w.Body.String(), tt.inBody) {
				t.Errorf("%d %q %s, want %d %q containing %s", w.Code, w.Header().Get("X-Amzn-Errortype"), w.Body, tt.status, tt.code, tt.inBody)
			}
			if w.Header().Get("Content-Type") != JSON11 {
				t.Errorf("Content-Type %q", w.Header().Get("Content-Type"))
			}
		})
	}
	if got := d.Operations(); strings.Join(got, ",") != "Echo,Fail" {
		t.Errorf("Operations() = %v", got)
	}
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{"name":"x"}`))
	r.Header.Set("X-Amz-Target", "Demo_2020.Echo")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/demo/aws4_request")
	d.ServeHTTP(w, r)
	var out map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &out)
	if out["op"] != "Echo" || out["region"] != "eu-west-1" {
		t.Errorf("call = %v", out)
	}
}

func TestJSONRPCDuplicate(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("registering an operation twice did not panic")
		}
	}()
	d := &JSONRPC{}
	h := func(*Call) (any, error) { return nil, nil }
	d.Handle("A", h)
	d.Handle("A", h)
}

func TestREST(t *testing.T) {
	d := &REST{Service: "Demo", PathPrefix: "/v1/", BadRequest: "BadRequestException"}
	params := func(c *Call) (any, error) {
		return map[string]any{"op": c.Operation, "params": c.Params, "limit": c.Query.Get("limit")}, nil
	}
	d.Handle("ListThings", http.MethodGet, "meshes/{mesh}/things", params)
	d.Handle("DescribeThing", http.MethodGet, "meshes/{mesh}/things/{name}", params)
	d.Handle("CreateThing", http.MethodPut, "meshes/{mesh}/things", Typed(func(c *Call, in *echoInput) (any, error) {
		return map[string]any{"op": c.Operation, "name": in.Name}, nil
	}))
	tests := []struct {
		name, method, path, body string
		status                   int
		code, inBody             string
	}{
		{"list", "GET", "/v1/meshes/m/things?limit=3", "", 200, "", `"limit":"3"`},
		{"describe, escaped", "GET", "/v1/meshes/m/things/a%2Fb", "", 200, "", `"name":"a/b"`},
		{"create", "PUT", "/v1/meshes/m/things", `{"name":"t"}`, 200, "", `"op":"CreateThing"`},
		{"bad JSON", "PUT", "/v1/meshes/m/things", `{`, 400, "BadRequestException", "not valid JSON"},
		{"empty parameter", "GET", "/v1/meshes//things", "", 404, CodeUnknownOperation, "does not implement GET"},
		{"wrong method", "POST", "/v1/meshes/m/things", "", 404, CodeUnknownOperation, "does not implement POST"},
		{"other prefix", "GET", "/v2/meshes", "", 404, CodeUnknownOperation, "does not implement"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			w := httptest.NewRecorder()
			d.ServeHTTP(w, r)
			if w.Code != tt.status || w.Header().Get("X-Amzn-Errortype") != tt.code || !strings.Contains(w.Body.String(), tt.inBody) {
				t.Errorf("%d %q %s, want %d %q containing %s", w.Code, w.Header().Get("X-Amzn-Errortype"), w.Body, tt.status, tt.code, tt.inBody)
			}
		})
	}
	if got := d.Operations(); strings.Join(got, ",") != "CreateThing,DescribeThing,ListThings" {
		t.Errorf("Operations() = %v", got)
	}
}
