package awsproto

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
)

// JSON10 is the content type of the JSON 1.0 protocol (CloudWatch's for
// botocore and the AWS CLI: POST / with X-Amz-Target SERVICE.OP).
const JSON10 = "application/x-amz-json-1.0"

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
