package awsproto

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"
)

// JSON10 is the content type of the JSON 1.0 protocol (CloudWatch's for
// botocore and the AWS CLI: POST / with X-Amz-Target SERVICE.OP).
const JSON10 = "application/x-amz-json-1.0"

// DecodeJSON decodes a JSON request body into v as Decode does, from the
// body already read.
func DecodeJSON(b []byte, v any, invalidCode string) error {
	if len(bytes.TrimSpace(b)) == 0 {
		b = []byte("{}")
	}
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

// WriteJSON10 writes a successful JSON 1.0 response.
func WriteJSON10(w http.ResponseWriter, v any) {
	writeJSON(w, JSON10, http.StatusOK, v)
}

// WriteJSON10Error writes err in the JSON 1.0 error shape, {"__type": CODE,
// "message": MESSAGE}, with the query error code in X-Amzn-Query-Error for
// awsQueryCompatible services (see WriteCBORError for queryCodes).
func WriteJSON10Error(w http.ResponseWriter, err error, internalCode string, queryCodes map[string]string) {
	e := asError(err, internalCode)
	body := map[string]any{"__type": e.Code, "message": e.Message}
	for k, v := range e.Extra {
		body[k] = v
	}
	w.Header().Set("X-Amzn-Query-Error", queryError(e, queryCodes))
	writeJSON(w, JSON10, e.Status, body)
}

// queryError is the X-Amzn-Query-Error header's value for e: "CODE;Sender"
// or "CODE;Receiver".
func queryError(e *Error, queryCodes map[string]string) string {
	code := e.Code
	if q, ok := queryCodes[e.Code]; ok {
		code = q
	}
	if e.Status >= 500 {
		return code + ";Receiver"
	}
	return code + ";Sender"
}

// Decompress undoes a request body's Content-Encoding: the SDKs gzip some
// requests (CloudWatch's PutMetricData). The result is limited to
// MaxBodyBytes like any body.
func Decompress(r *http.Request, body []byte) ([]byte, error) {
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		return body, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, Errorf(http.StatusBadRequest, "SerializationException", "the request body is not gzip: %v", err)
		}
		b, err := io.ReadAll(io.LimitReader(zr, MaxBodyBytes+1))
		if err != nil {
			return nil, Errorf(http.StatusBadRequest, "SerializationException", "the request body is not gzip: %v", err)
		}
		if len(b) > MaxBodyBytes {
			return nil, Errorf(http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException",
				"the request body is larger than the limit of %d bytes (16 MiB) once decompressed", MaxBodyBytes)
		}
		return b, nil
	default:
		return nil, Errorf(http.StatusUnsupportedMediaType, "UnsupportedMediaTypeException", "Content-Encoding %q is not supported (gzip is)", enc)
	}
}
