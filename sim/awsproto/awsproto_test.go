package awsproto

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRegion(t *testing.T) {
	tests := []struct{ auth, query, want string }{
		{"AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/ecs/aws4_request, SignedHeaders=host, Signature=x", "", "eu-west-1"},
		{"AWS4-HMAC-SHA256 Credential=meshsim/20260101/ap-southeast-2/appmesh/aws4_request", "", "ap-southeast-2"},
		{"", "AKID/20260101/us-west-2/servicediscovery/aws4_request", "us-west-2"},
		{"", "", DefaultRegion},
		{"Bearer x", "", DefaultRegion},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("POST", "/?X-Amz-Credential="+tc.query, nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		if got := Region(r); got != tc.want {
			t.Errorf("Region(%q, %q) = %q, want %q", tc.auth, tc.query, got, tc.want)
		}
	}
}

func TestErrorShapes(t *testing.T) {
	w := httptest.NewRecorder()
	WriteJSON11Error(w, &Error{Code: "ServiceNotFound", Message: "no", Extra: map[string]any{"ServiceId": "srv-1"}}, "Message", "InternalFailure")
	var body map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	if w.Code != http.StatusBadRequest || body["__type"] != "ServiceNotFound" || body["Message"] != "no" || body["ServiceId"] != "srv-1" || w.Header().Get("Content-Type") != JSON11 {
		t.Errorf("JSON 1.1 error: %d %v %v", w.Code, body, w.Header())
	}
	w = httptest.NewRecorder()
	WriteRESTError(w, Errorf(http.StatusNotFound, "NotFoundException", "mesh %s", "m"))
	if w.Code != 404 || w.Header().Get("X-Amzn-Errortype") != "NotFoundException" || !strings.Contains(w.Body.String(), `"message":"mesh m"`) {
		t.Errorf("REST error: %d %v %s", w.Code, w.Header(), w.Body)
	}
	w = httptest.NewRecorder()
	WriteRESTError(w, errors.New("boom")) // not an AWS error: a 500
	if w.Code != 500 || w.Header().Get("X-Amzn-Errortype") != "InternalServerErrorException" {
		t.Errorf("plain error: %d %v", w.Code, w.Header())
	}
}

func TestDecode(t *testing.T) {
	var v struct {
		Count int `json:"count"`
	}
	tests := []struct{ body, want string }{
		{`{"count": 3, "unknown": true}`, ""},
		{``, ""},
		{`{"count": "three"}`, `invalid value for field "count"`},
		{`{`, "not valid JSON"},
	}
	for _, tc := range tests {
		err := Decode(httptest.NewRequest("POST", "/", strings.NewReader(tc.body)), &v, "InvalidParameterException")
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.body, err)
		case tc.want != "":
			var e *Error
			if !errors.As(err, &e) || e.Code != "InvalidParameterException" || !strings.Contains(e.Message, tc.want) {
				t.Errorf("%q: %v, want InvalidParameterException %q", tc.body, err, tc.want)
			}
		}
	}
}
