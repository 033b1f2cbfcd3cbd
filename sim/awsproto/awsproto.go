// Package awsproto speaks the AWS wire protocols the fakes serve: JSON 1.1
// (ECS, Cloud Map: POST / with X-Amz-Target), REST-JSON (App Mesh) and
// Query (Elastic Load Balancing: form-encoded Action requests, XML answers;
// query.go), with AWS's error shapes, ARNs, and the region and service
// taken from the request signature.
//
// The JSON fakes dispatch with it and page with it, so that they answer
// alike: JSONRPC (by X-Amz-Target) or REST (by method and path) route a
// request to the operation's Handler, read its body (MaxBodyBytes at most),
// answer an operation they do not have with UnknownOperationException (400
// in JSON 1.1, 404 in REST-JSON) and write the Handler's result or error in
// the protocol's shape. Page pages a List operation's results with the
// service's size member and error code.
//
//	api := &awsproto.JSONRPC{Service: "Cloud Map", TargetPrefix: "Route53AutoNaming_v20170314",
//		MessageKey: "Message", BadRequest: "InvalidInput", Internal: "InternalFailure"}
//	api.Handle("ListNamespaces", awsproto.Typed(f.listNamespaces))
//	http.Handle("/", api)
//
//	var paging = awsproto.Paging{Default: 100, Max: 100, SizeMember: "MaxResults",
//		TokenMember: "NextToken", Code: "InvalidInput"}
//
//	func (f *Fake) listNamespaces(c *awsproto.Call, in *listNamespacesInput) (any, error) {
//		ids := f.sortedNamespaceIDs(c.Region)
//		page, next, err := awsproto.Page(paging, ids, awsproto.Self, in.NextToken, in.MaxResults)
//		if err != nil {
//			return nil, err
//		}
//		return listNamespacesOutput{Namespaces: f.describe(page), NextToken: next}, nil
//	}
package awsproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Account is the account id of every resource in the simulated world.
const Account = "000000000000"

// DefaultRegion is used when a request carries no SigV4 signature.
const DefaultRegion = "us-east-1"

var credentialScope = regexp.MustCompile(`Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/`)

// Region returns the region named in the request's SigV4 credential scope
// (Authorization: AWS4-HMAC-SHA256 Credential=AKID/20240101/REGION/svc/aws4_request),
// or DefaultRegion. Any credentials are accepted; the signature is not checked.
func Region(r *http.Request) string {
	if m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		return m[1]
	}
	if m := credentialScope.FindStringSubmatch("Credential=" + r.URL.Query().Get("X-Amz-Credential")); m != nil {
		return m[1]
	}
	return DefaultRegion
}

// ARN forms an ARN as AWS does: arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE.
func ARN(region, service, resource string) string {
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, region, Account, resource)
}

// Error is an AWS API error: the HTTP status, the error code clients switch
// on (the shape name, e.g. "ClientException", "NotFoundException") and a
// message. Extra holds additional members of the error shape.
type Error struct {
	Status  int
	Code    string
	Message string
	Extra   map[string]any
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with status 400 unless status is given.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// asError turns any error into an *Error; an unknown error is a 500 with
// code internal to the protocol family (given by the caller).
func asError(err error, internalCode string) *Error {
	var e *Error
	if errors.As(err, &e) {
		if e.Status == 0 {
			c := *e
			c.Status = http.StatusBadRequest
			return &c
		}
		return e
	}
	return &Error{Status: http.StatusInternalServerError, Code: internalCode, Message: err.Error()}
}

// JSON11 is the content type of the JSON 1.1 protocol.
const JSON11 = "application/x-amz-json-1.1"

// WriteJSON11 writes a successful JSON 1.1 response.
func WriteJSON11(w http.ResponseWriter, v any) {
	writeJSON(w, JSON11, http.StatusOK, v)
}

// WriteJSON11Error writes err in the JSON 1.1 error shape:
// {"__type": CODE, MESSAGEKEY: MESSAGE, ...extra}. ECS uses "message",
// Cloud Map "Message". internalCode names the service's 500 error shape.
func WriteJSON11Error(w http.ResponseWriter, err error, messageKey, internalCode string) {
	e := asError(err, internalCode)
	body := map[string]any{"__type": e.Code, messageKey: e.Message}
	for k, v := range e.Extra {
		body[k] = v
	}
	w.Header().Set("X-Amzn-Errortype", e.Code)
	writeJSON(w, JSON11, e.Status, body)
}

// WriteREST writes a successful REST-JSON response.
func WriteREST(w http.ResponseWriter, v any) {
	writeJSON(w, "application/json", http.StatusOK, v)
}

// WriteRESTError writes err as REST-JSON does: the code in the
// X-Amzn-Errortype header, {"message": MESSAGE} in the body.
func WriteRESTError(w http.ResponseWriter, err error) {
	e := asError(err, "InternalServerErrorException")
	body := map[string]any{"message": e.Message}
	for k, v := range e.Extra {
		body[k] = v
	}
	w.Header().Set("X-Amzn-Errortype", e.Code)
	writeJSON(w, "application/json", e.Status, body)
}

func writeJSON(w http.ResponseWriter, contentType string, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"message":"encoding response: ` + strings.ReplaceAll(err.Error(), `"`, `'`) + `"}`)
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// MaxBodyBytes is the largest request body the fakes accept: 16 MiB. A
// larger one is answered 413 RequestEntityTooLargeException.
const MaxBodyBytes = 16 << 20

// ReadBody reads r's body, at most MaxBodyBytes of it. A larger body is a
// 413 RequestEntityTooLargeException, one that does not arrive before the
// connection's read deadline a 408 RequestTimeoutException, and any other
// failure to read it a 400 with code invalidCode.
func ReadBody(r *http.Request, invalidCode string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge) || err == nil && len(b) > MaxBodyBytes:
		return nil, Errorf(http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException",
			"the request body is larger than the limit of %d bytes (16 MiB)", MaxBodyBytes)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, Errorf(http.StatusRequestTimeout, "RequestTimeoutException",
			"the request body did not arrive in time (%d bytes received)", len(b))
	case err != nil:
		return nil, Errorf(http.StatusBadRequest, invalidCode, "reading request body: %v", err)
	}
	return b, nil
}

// Decode reads a JSON request body into v. Unknown members are ignored as
// AWS does; a body that is not JSON or not UTF-8, or a member of the wrong
// type, becomes an error with code invalidCode that names the member. The
// body is read with ReadBody.
func Decode(r *http.Request, v any, invalidCode string) error {
	b, err := ReadBody(r, invalidCode)
	if err != nil {
		return err
	}
	return DecodeBytes(b, v, invalidCode)
}

// DecodeBytes decodes a JSON request body b into v as Decode does. An empty
// body is an empty structure.
func DecodeBytes(b []byte, v any, invalidCode string) error {
	if len(bytes.TrimSpace(b)) == 0 {
		b = []byte("{}")
	}
	// encoding/json would replace invalid UTF-8 with U+FFFD, so that a name
	// sent as bytes would be stored as another name.
	if !utf8.Valid(b) {
		return Errorf(http.StatusBadRequest, invalidCode, "request body is not valid UTF-8 (invalid byte at offset %d)", invalidUTF8At(b))
	}
	if err := json.Unmarshal(b, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return Errorf(http.StatusBadRequest, invalidCode, "invalid value for field %q: expected %s, got JSON %s", te.Field, te.Type, te.Value)
		}
		return Errorf(http.StatusBadRequest, invalidCode, "request body is not valid JSON: %v", err)
	}
	return nil
}

// invalidUTF8At returns the offset of the first byte of b that is not valid
// UTF-8.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}
