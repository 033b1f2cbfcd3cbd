package awsproto

import (
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
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
	huge := `{"count": 1, "pad": "` + strings.Repeat("x", MaxBodyBytes) + `"}`
	tests := []struct {
		name   string
		body   io.Reader
		want   string // "" for no error
		code   string // default InvalidParameterException
		status int    // default 400
	}{
		{name: "unknown members ignored", body: strings.NewReader(`{"count": 3, "unknown": true}`)},
		{name: "empty body", body: strings.NewReader(``)},
		{name: "at the limit", body: strings.NewReader(`{"count":1}` + strings.Repeat(" ", MaxBodyBytes-11))},
		{name: "wrong type", body: strings.NewReader(`{"count": "three"}`), want: `invalid value for field "count"`},
		{name: "not JSON", body: strings.NewReader(`{`), want: "not valid JSON"},
		{name: "invalid UTF-8", body: strings.NewReader("{\"name\": \"a\xffb\"}"), want: "not valid UTF-8 (invalid byte at offset 11)"},
		{name: "truncated UTF-8", body: strings.NewReader("{\"name\": \"\xe2\x80\"}"), want: "not valid UTF-8"},
		{name: "over 16 MiB", body: strings.NewReader(huge), want: "larger than the limit",
			code: "RequestEntityTooLargeException", status: http.StatusRequestEntityTooLarge},
		{name: "body deadline", body: io.MultiReader(strings.NewReader(`{"cou`), errReader{os.ErrDeadlineExceeded}),
			want: "did not arrive in time (5 bytes received)", code: "RequestTimeoutException", status: http.StatusRequestTimeout},
		{name: "broken body", body: errReader{io.ErrUnexpectedEOF}, want: "reading request body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Decode(httptest.NewRequest("POST", "/", tc.body), &v, "InvalidParameterException")
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			code, status := cmp.Or(tc.code, "InvalidParameterException"), cmp.Or(tc.status, http.StatusBadRequest)
			var e *Error
			if !errors.As(err, &e) || e.Code != code || e.Status != status || !strings.Contains(e.Message, tc.want) {
				t.Errorf("err = %v, want %d %s %q", err, status, code, tc.want)
			}
		})
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
