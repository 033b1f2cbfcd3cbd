package awsproto

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// The Smithy RPC v2 CBOR protocol (CloudWatch since 2025): POST
// /service/SERVICE/operation/OPERATION with a CBOR body, answered with a
// CBOR body and the header Smithy-Protocol: rpc-v2-cbor. Timestamps are
// CBOR tag 1 (epoch seconds), blobs byte strings. An error is a CBOR map
// {"__type": SHAPE, "message": MESSAGE}; for a service with awsQueryCompatible
// the query error code and fault also go in X-Amzn-Query-Error as
// "CODE;Sender" so that clients written for the Query protocol see the
// codes they know.

// CBOR is the content type of the RPC v2 CBOR protocol.
const CBOR = "application/cbor"

// RPCv2Operation returns the operation named by an RPC v2 request path
// /service/SERVICE/operation/OPERATION, and whether the path has that form
// for service.
func RPCv2Operation(path, service string) (string, bool) {
	prefix := "/service/" + service + "/operation/"
	op, ok := strings.CutPrefix(path, prefix)
	return op, ok && op != "" && !strings.Contains(op, "/")
}

// Time is a timestamp as the AWS protocols carry it: epoch seconds (JSON
// number, CBOR tag 1). The zero Time is left out of responses.
type Time struct{ time.Time }

// UnmarshalJSON reads epoch seconds (the form DecodeCBOR hands over).
func (t *Time) UnmarshalJSON(b []byte) error {
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("timestamp: want epoch seconds, got %s", b)
	}
	t.Time = epochTime(secs)
	return nil
}

// MarshalJSON writes epoch seconds.
func (t Time) MarshalJSON() ([]byte, error) {
	return json.Marshal(epochSeconds(t.Time))
}

func epochTime(secs float64) time.Time {
	whole, frac := math.Modf(secs)
	return time.Unix(int64(whole), int64(math.Round(frac*1e3))*int64(time.Millisecond)).UTC()
}

func epochSeconds(t time.Time) float64 {
	return float64(t.UnixMilli()) / 1e3
}

// DecodeCBOR decodes an RPC v2 CBOR request body into v, a pointer to a
// struct with json tags (timestamps as Time). An empty body is an empty
// input. A body that is not CBOR is a 400 SerializationException.
func DecodeCBOR(body []byte, v any) error {
	if len(body) == 0 {
		return nil
	}
	cv, err := cbor.Decode(body)
	if err != nil {
		return Errorf(http.StatusBadRequest, "SerializationException", "the request body is not valid CBOR: %v", err)
	}
	generic, err := fromCBOR(cv)
	if err != nil {
		return Errorf(http.StatusBadRequest, "SerializationException", "the request body: %v", err)
	}
	b, err := json.Marshal(generic)
	if err != nil {
		return Errorf(http.StatusBadRequest, "SerializationException", "the request body: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return Errorf(http.StatusBadRequest, "SerializationException", "the request body does not fit the operation's input: %v", err)
	}
	return nil
}

// fromCBOR turns a decoded CBOR value into the values encoding/json
// produces, with timestamps as epoch seconds and blobs as base64.
func fromCBOR(v cbor.Value) (any, error) {
	switch v := v.(type) {
	case cbor.Map:
		m := make(map[string]any, len(v))
		for k, e := range v {
			g, err := fromCBOR(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			m[k] = g
		}
		return m, nil
	case cbor.List:
		l := make([]any, len(v))
		for i, e := range v {
			g, err := fromCBOR(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			l[i] = g
		}
		return l, nil
	case cbor.String:
		return string(v), nil
	case cbor.Slice:
		return base64.StdEncoding.EncodeToString(v), nil
	case cbor.Bool:
		return bool(v), nil
	case cbor.Uint, cbor.NegInt, cbor.Float32, cbor.Float64:
		return cbor.AsFloat64(v)
	case *cbor.Tag:
		if v.ID != 1 {
			return nil, fmt.Errorf("CBOR tag %d is not a timestamp (tag 1)", v.ID)
		}
		return cbor.AsFloat64(v.Value)
	case *cbor.Nil, *cbor.Undefined:
		return nil, nil
	}
	return nil, fmt.Errorf("unexpected CBOR value %T", v)
}

// WriteCBOR writes a successful RPC v2 CBOR response: v (a struct with json
// tags, Time for timestamps) as a CBOR map.
func WriteCBOR(w http.ResponseWriter, v any) {
	writeCBOR(w, http.StatusOK, toCBOR(reflect.ValueOf(v)))
}

// WriteCBORError writes err in the RPC v2 CBOR error shape. internalCode
// names the service's 500 error shape. queryCodes maps error shapes to the
// codes of the service's Query protocol (awsQueryCompatible services), sent
// in X-Amzn-Query-Error; a shape not in it sends its own name.
func WriteCBORError(w http.ResponseWriter, err error, internalCode string, queryCodes map[string]string) {
	e := asError(err, internalCode)
	body := cbor.Map{"__type": cbor.String(e.Code), "message": cbor.String(e.Message)}
	for k, x := range e.Extra {
		body[k] = toCBOR(reflect.ValueOf(x))
	}
	w.Header().Set("X-Amzn-Query-Error", queryError(e, queryCodes))
	writeCBOR(w, e.Status, body)
}

func writeCBOR(w http.ResponseWriter, status int, v cbor.Value) {
	if v == nil {
		v = cbor.Map{}
	}
	w.Header().Set("Content-Type", CBOR)
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.WriteHeader(status)
	_, _ = w.Write(cbor.Encode(v))
}

var timeType = reflect.TypeFor[Time]()

// toCBOR encodes a Go value as CBOR the way encoding/json would encode it
// as JSON (json tags, omitempty, "-"), with Time as tag 1. It returns nil
// for a value to leave out.
func toCBOR(v reflect.Value) cbor.Value {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Type() == timeType {
		t := v.Interface().(Time)
		if t.IsZero() {
			return nil
		}
		return &cbor.Tag{ID: 1, Value: cbor.Float64(epochSeconds(t.Time))}
	}
	switch v.Kind() {
	case reflect.Struct:
		return structToCBOR(v)
	case reflect.Map:
		m := make(cbor.Map, v.Len())
		for it := v.MapRange(); it.Next(); {
			if e := toCBOR(it.Value()); e != nil {
				m[fmt.Sprint(it.Key().Interface())] = e
			}
		}
		return m
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return cbor.Slice(v.Bytes())
		}
		l := make(cbor.List, 0, v.Len())
		for i := range v.Len() {
			if e := toCBOR(v.Index(i)); e != nil {
				l = append(l, e)
			}
		}
		return l
	case reflect.String:
		return cbor.String(v.String())
	case reflect.Bool:
		return cbor.Bool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n := v.Int(); n < 0 {
			return cbor.NegInt(uint64(-n))
		}
		return cbor.Uint(uint64(v.Int()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return cbor.Uint(v.Uint())
	case reflect.Float32, reflect.Float64:
		return cbor.Float64(v.Float())
	}
	return nil
}

func structToCBOR(v reflect.Value) cbor.Map {
	m := make(cbor.Map, v.NumField())
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fv := v.Field(i)
		if strings.Contains(opts, "omitempty") && fv.IsZero() {
			continue
		}
		if e := toCBOR(fv); e != nil {
			m[name] = e
		}
	}
	return m
}
