package awsproto

// The AWS Query protocol (awsquery: Elastic Load Balancing, CloudWatch,
// IAM, SQS's old wire): a request is a form, POST / with
// Content-Type application/x-www-form-urlencoded (or GET with the same
// parameters in the URL), naming the operation in Action and the API in
// Version; lists are NAME.member.N (from 1), maps NAME.entry.N.key and
// NAME.entry.N.value, structures NAME.MEMBER. The answer is XML:
//
//	<ActionResponse xmlns="NAMESPACE">
//	  <ActionResult>…members…</ActionResult>
//	  <ResponseMetadata><RequestId>ID</RequestId></ResponseMetadata>
//	</ActionResponse>
//
// and an error is
//
//	<ErrorResponse xmlns="NAMESPACE">
//	  <Error><Type>Sender</Type><Code>CODE</Code><Message>MESSAGE</Message></Error>
//	  <RequestId>ID</RequestId>
//	</ErrorResponse>
//
// Requests are decoded and answers encoded beside the operation's Smithy
// schemas that aws-sdk-go-v2 ships (service/NAME/schemas), so that the
// fake's own types only need JSON tags naming the members as the model
// does: DecodeQuery turns the form into the JSON value of the input shape,
// WriteQuery turns the JSON value of the output into XML.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	smithy "github.com/aws/smithy-go"
	"github.com/aws/smithy-go/traits"
)

// QueryContentType is the content type of a Query protocol request.
const QueryContentType = "application/x-www-form-urlencoded"

// Query protocol error codes common to every service (AWS's "common
// errors").
const (
	// QueryValidationError is a parameter of the wrong type or value.
	QueryValidationError = "ValidationError"
	// QueryInvalidAction is an Action the service does not have.
	QueryInvalidAction = "InvalidAction"
	// QueryMissingAction is a request without an Action.
	QueryMissingAction = "MissingAction"
	// QueryInternalFailure is the fake's own failure (HTTP 500).
	QueryInternalFailure = "InternalFailure"
)

var serviceScope = regexp.MustCompile(`Credential=[^/,\s]+/\d{8}/[a-z0-9-]+/([a-z0-9-]+)/aws4_request`)

// Service returns the service named in the request's SigV4 credential
// scope (Credential=AKID/20240101/REGION/SERVICE/aws4_request), for example
// "elasticloadbalancing" or "monitoring", or "" for an unsigned request.
func Service(r *http.Request) string {
	if m := serviceScope.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		return m[1]
	}
	if m := serviceScope.FindStringSubmatch("Credential=" + r.URL.Query().Get("X-Amz-Credential")); m != nil {
		return m[1]
	}
	return ""
}

// QueryRequest is one Query protocol request.
type QueryRequest struct {
	// Action names the operation, e.g. "DescribeTargetGroups".
	Action string
	// Version is the API version, e.g. "2015-12-01".
	Version string
	// Params are the request's parameters, Action and Version included.
	Params url.Values
}

// ReadQuery reads a Query protocol request: the parameters of the URL and,
// for a POST, of the form in its body (read with ReadBody). A body that is
// not a form, or a request without an Action, is an error.
func ReadQuery(r *http.Request) (*QueryRequest, error) {
	params, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, Errorf(http.StatusBadRequest, QueryValidationError, "the query string is not a form: %v", err)
	}
	if r.Method == http.MethodPost {
		b, err := ReadBody(r, QueryValidationError)
		if err != nil {
			return nil, err
		}
		form, err := url.ParseQuery(string(b))
		if err != nil {
			return nil, Errorf(http.StatusBadRequest, QueryValidationError, "the request body is not a form (%s): %v", QueryContentType, err)
		}
		for k, vs := range form {
			params[k] = append(params[k], vs...)
		}
	}
	q := &QueryRequest{Action: params.Get("Action"), Version: params.Get("Version"), Params: params}
	if q.Action == "" {
		return nil, Errorf(http.StatusBadRequest, QueryMissingAction, "the request must contain the parameter Action")
	}
	return q, nil
}

// DecodeQuery decodes the parameters of a Query request into v, whose JSON
// form is the operation's input shape (members named as in the model). It
// returns the parameters the shape does not have (AWS ignores them). A
// parameter of the wrong type is a ValidationError naming it.
func DecodeQuery(params url.Values, input *smithy.Schema, v any) (unknown []string, err error) {
	d := queryDecoder{params: params, prefixes: make(map[string]bool), used: map[string]bool{"Action": true, "Version": true}}
	for k := range params {
		for i := range len(k) {
			if k[i] == '.' {
				d.prefixes[k[:i]] = true
			}
		}
		d.prefixes[k] = true
	}
	val, _, err := d.structure(input, "")
	if err != nil {
		return nil, Errorf(http.StatusBadRequest, QueryValidationError, "%s", err.Error())
	}
	for k := range params {
		if !d.used[k] {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	if val == nil {
		val = map[string]any{}
	}
	b, err := json.Marshal(val)
	if err != nil {
		return nil, fmt.Errorf("encoding the decoded parameters: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, Errorf(http.StatusBadRequest, QueryValidationError, "invalid value for parameter %s: expected %s", te.Field, te.Type)
		}
		return nil, Errorf(http.StatusBadRequest, QueryValidationError, "decoding parameters: %v", err)
	}
	return unknown, nil
}

// queryDecoder turns form parameters into the JSON value of a shape.
type queryDecoder struct {
	params   url.Values
	prefixes map[string]bool // every key and every dotted prefix of a key
	used     map[string]bool
}

// value decodes the member or element at key of shape s; ok is false when
// the request has nothing there.
func (d *queryDecoder) value(s *smithy.Schema, key string) (any, bool, error) {
	if !d.prefixes[key] {
		return nil, false, nil
	}
	switch s.Type() {
	case smithy.ShapeTypeStructure, smithy.ShapeTypeUnion:
		return d.structure(s, key)
	case smithy.ShapeTypeList, smithy.ShapeTypeSet:
		return d.list(s, key)
	case smithy.ShapeTypeMap:
		return d.mapValue(s, key)
	}
	vs, ok := d.params[key]
	if !ok {
		return nil, false, fmt.Errorf("parameter %s must be a single value, not a structure, list or map", key)
	}
	d.used[key] = true
	v, err := queryScalar(s.Type(), vs[0])
	if err != nil {
		return nil, false, fmt.Errorf("invalid value %q for parameter %s: %w", vs[0], key, err)
	}
	return v, true, nil
}

// structure decodes the members of a structure at prefix key ("" for the
// input itself).
func (d *queryDecoder) structure(s *smithy.Schema, key string) (any, bool, error) {
	out := map[string]any{}
	names := make([]string, 0, len(s.Members()))
	for name := range s.Members() {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		ms := s.Member(name)
		v, ok, err := d.value(ms, join(key, queryName(ms, name)))
		if err != nil {
			return nil, false, err
		}
		if ok {
			out[name] = v
		}
	}
	if key != "" {
		if _, scalar := d.params[key]; scalar {
			return nil, false, fmt.Errorf("parameter %s is a structure: give its members as %s.MEMBER", key, key)
		}
	}
	return out, true, nil
}

// list decodes NAME.member.1, NAME.member.2, … (NAME.1, … when flattened);
// NAME alone with an empty value is an empty list.
func (d *queryDecoder) list(s *smithy.Schema, key string) (any, bool, error) {
	if vs, ok := d.params[key]; ok {
		d.used[key] = true
		if len(vs) != 1 || vs[0] != "" {
			return nil, false, fmt.Errorf("parameter %s is a list: give its elements as %s", key, listKey(s, key)+".1")
		}
	}
	out := []any{}
	for i := 1; ; i++ {
		v, ok, err := d.value(s.ListMember(), listKey(s, key)+"."+strconv.Itoa(i))
		if err != nil {
			return nil, false, err
		}
		if !ok {
			break
		}
		out = append(out, v)
	}
	return out, true, nil
}

// mapValue decodes NAME.entry.N.key and NAME.entry.N.value.
func (d *queryDecoder) mapValue(s *smithy.Schema, key string) (any, bool, error) {
	entry := key + ".entry"
	if _, flat := smithy.SchemaTrait[*traits.XMLFlattened](s); flat {
		entry = key
	}
	out := map[string]any{}
	for i := 1; ; i++ {
		e := entry + "." + strconv.Itoa(i)
		if !d.prefixes[e] {
			break
		}
		kk := e + "." + queryName(s.MapKey(), "key")
		k, ok, err := d.value(s.MapKey(), kk)
		if err != nil {
			return nil, false, err
		}
		ks, isString := k.(string)
		if !ok || !isString {
			return nil, false, fmt.Errorf("parameter %s is missing", kk)
		}
		v, _, err := d.value(s.MapValue(), e+"."+queryName(s.MapValue(), "value"))
		if err != nil {
			return nil, false, err
		}
		out[ks] = v
	}
	return out, true, nil
}

// listKey is the prefix of a list's elements: NAME.member, or NAME when
// the list is flattened; the list member's xmlName replaces "member".
func listKey(s *smithy.Schema, key string) string {
	if _, flat := smithy.SchemaTrait[*traits.XMLFlattened](s); flat {
		return key
	}
	return key + "." + queryName(s.ListMember(), "member")
}

// queryName is the wire name of a member: its xmlName, or its name.
func queryName(s *smithy.Schema, name string) string {
	if t, ok := smithy.SchemaTrait[*traits.XMLName](s); ok && t.Name != "" {
		return t.Name
	}
	return name
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// queryScalar converts a parameter's text to the JSON value of a simple
// shape: numbers stay numbers (json.Number), timestamps become epoch
// seconds as in the JSON protocols.
func queryScalar(typ smithy.ShapeType, s string) (any, error) {
	switch typ {
	case smithy.ShapeTypeBoolean:
		b, err := strconv.ParseBool(s)
		if err != nil || (s != "true" && s != "false") {
			return nil, errors.New("expected true or false")
		}
		return b, nil
	case smithy.ShapeTypeByte, smithy.ShapeTypeShort, smithy.ShapeTypeInteger, smithy.ShapeTypeLong, smithy.ShapeTypeIntEnum:
		bits := map[smithy.ShapeType]int{smithy.ShapeTypeByte: 8, smithy.ShapeTypeShort: 16, smithy.ShapeTypeLong: 64}[typ]
		if bits == 0 {
			bits = 32
		}
		if _, err := strconv.ParseInt(s, 10, bits); err != nil {
			return nil, fmt.Errorf("expected a %d-bit integer", bits)
		}
		return json.Number(s), nil
	case smithy.ShapeTypeFloat, smithy.ShapeTypeDouble, smithy.ShapeTypeBigDecimal, smithy.ShapeTypeBigInteger:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, errors.New("expected a number")
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
	case smithy.ShapeTypeTimestamp:
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, errors.New("expected an ISO 8601 timestamp")
		}
		return json.Number(strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', -1, 64)), nil
	}
	return s, nil // strings, enums, blobs (base64 as sent)
}

// WriteQuery writes a successful Query response to action: v's JSON form is
// the output shape (members named as in the model), encoded as XML beside
// output (nil for an operation without output members). namespace is the
// service's XML namespace, e.g.
// "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/".
func WriteQuery(w http.ResponseWriter, action, namespace string, output *smithy.Schema, v any) {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, `<%sResponse xmlns="%s"><%sResult>`, action, namespace, action)
	if output != nil && v != nil {
		if err := encodeQueryResult(&buf, output, v); err != nil {
			WriteQueryError(w, namespace, fmt.Errorf("encoding the %s response: %w", action, err))
			return
		}
	}
	id := RequestID()
	fmt.Fprintf(&buf, `</%sResult><ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>`, action, id, action)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", id)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// WriteQueryError writes err in the Query protocol's error shape; an error
// that is not an *Error is a 500 InternalFailure.
func WriteQueryError(w http.ResponseWriter, namespace string, err error) {
	e := asError(err, QueryInternalFailure)
	typ := "Sender"
	if e.Status >= 500 {
		typ = "Receiver"
	}
	id := RequestID()
	var buf bytes.Buffer
	fmt.Fprintf(&buf, `<ErrorResponse xmlns="%s"><Error><Type>%s</Type><Code>`, namespace, typ)
	_ = xml.EscapeText(&buf, []byte(e.Code))
	buf.WriteString(`</Code><Message>`)
	_ = xml.EscapeText(&buf, []byte(e.Message))
	fmt.Fprintf(&buf, `</Message></Error><RequestId>%s</RequestId></ErrorResponse>`, id)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", id)
	w.WriteHeader(e.Status)
	_, _ = w.Write(buf.Bytes())
}

// RequestID returns a new request id in AWS's form (a random UUID).
func RequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// encodeQueryResult writes the members of v (a structure of shape output)
// inside the Result element.
func encodeQueryResult(buf *bytes.Buffer, output *smithy.Schema, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var val any
	if err := dec.Decode(&val); err != nil {
		return err
	}
	m, ok := val.(map[string]any)
	if !ok {
		return fmt.Errorf("the output is JSON %T, not an object", val)
	}
	return encodeMembers(buf, output, m, "")
}

// encodeMembers writes the members of a structure in the model's order of
// names (sorted, as the SDK's own serializers write them).
func encodeMembers(buf *bytes.Buffer, s *smithy.Schema, m map[string]any, path string) error {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, name := range names {
		ms := s.Member(name)
		if ms == nil {
			return fmt.Errorf("%s has no member %s in the model", strings.TrimPrefix(s.ID().Name, ""), join(path, name))
		}
		if m[name] == nil {
			continue
		}
		if err := encodeElement(buf, ms, queryName(ms, name), m[name], join(path, name)); err != nil {
			return err
		}
	}
	return nil
}

// encodeElement writes <tag>v</tag> for a value of shape s (a flattened
// list writes one <tag> per element).
func encodeElement(buf *bytes.Buffer, s *smithy.Schema, tag string, v any, path string) error {
	switch s.Type() {
	case smithy.ShapeTypeStructure, smithy.ShapeTypeUnion:
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: expected an object, got %T", path, v)
		}
		fmt.Fprintf(buf, "<%s>", tag)
		if err := encodeMembers(buf, s, m, path); err != nil {
			return err
		}
		fmt.Fprintf(buf, "</%s>", tag)
		return nil
	case smithy.ShapeTypeList, smithy.ShapeTypeSet:
		return encodeList(buf, s, tag, v, path)
	case smithy.ShapeTypeMap:
		return encodeMap(buf, s, tag, v, path)
	}
	text, err := queryText(s.Type(), v)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	fmt.Fprintf(buf, "<%s>", tag)
	_ = xml.EscapeText(buf, []byte(text))
	fmt.Fprintf(buf, "</%s>", tag)
	return nil
}

func encodeList(buf *bytes.Buffer, s *smithy.Schema, tag string, v any, path string) error {
	list, ok := v.([]any)
	if !ok {
		return fmt.Errorf("%s: expected a list, got %T", path, v)
	}
	_, flat := smithy.SchemaTrait[*traits.XMLFlattened](s)
	member := queryName(s.ListMember(), "member")
	if flat {
		member = tag
	} else {
		fmt.Fprintf(buf, "<%s>", tag)
	}
	for i, e := range list {
		if err := encodeElement(buf, s.ListMember(), member, e, path+"["+strconv.Itoa(i)+"]"); err != nil {
			return err
		}
	}
	if !flat {
		fmt.Fprintf(buf, "</%s>", tag)
	}
	return nil
}

func encodeMap(buf *bytes.Buffer, s *smithy.Schema, tag string, v any, path string) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: expected a map, got %T", path, v)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	_, flat := smithy.SchemaTrait[*traits.XMLFlattened](s)
	if !flat {
		fmt.Fprintf(buf, "<%s>", tag)
	}
	for _, k := range keys {
		entry := "entry"
		if flat {
			entry = tag
		}
		fmt.Fprintf(buf, "<%s>", entry)
		if err := encodeElement(buf, s.MapKey(), queryName(s.MapKey(), "key"), k, path+"."+k); err != nil {
			return err
		}
		if err := encodeElement(buf, s.MapValue(), queryName(s.MapValue(), "value"), m[k], path+"."+k); err != nil {
			return err
		}
		fmt.Fprintf(buf, "</%s>", entry)
	}
	if !flat {
		fmt.Fprintf(buf, "</%s>", tag)
	}
	return nil
}

// queryText is the XML text of a simple value: timestamps in ISO 8601
// (from epoch seconds or RFC 3339 text), booleans true/false.
func queryText(typ smithy.ShapeType, v any) (string, error) {
	switch x := v.(type) {
	case string:
		if typ == smithy.ShapeTypeTimestamp {
			t, err := time.Parse(time.RFC3339Nano, x)
			if err != nil {
				return "", fmt.Errorf("timestamp %q is not RFC 3339", x)
			}
			return t.UTC().Format("2006-01-02T15:04:05.000Z"), nil
		}
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case json.Number:
		if typ == smithy.ShapeTypeTimestamp {
			f, err := x.Float64()
			if err != nil {
				return "", err
			}
			sec, frac := math.Modf(f)
			return time.Unix(int64(sec), int64(frac*1e9)).UTC().Format("2006-01-02T15:04:05.000Z"), nil
		}
		return x.String(), nil
	}
	return "", fmt.Errorf("expected a simple value, got %T", v)
}
