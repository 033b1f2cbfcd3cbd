package ecs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	smithy "github.com/aws/smithy-go"

	"github.com/meshsim/meshsim/sim/awsproto"
	"github.com/meshsim/meshsim/sim/contract"
)

// This file checks requests against the ECS API model before an operation
// sees them: every member must have the type the model gives it (the
// Smithy schemas aws-sdk-go-v2 ships), so that nothing the fake stores and
// echoes can break a client's deserializer. Members the model does not
// have are dropped; members the fake does not act on are accepted, as ECS
// accepts them, and reported in a request.ignored event.

// request is a request body checked against the model.
type request struct {
	body    []byte   // the body without unknown members
	ignored []string // paths of members the fake accepts but does not act on
	unknown []string // paths of members the model does not have (dropped)
}

// checkRequest checks a request body against schema, the input
// shape of the operation; honoured are the member patterns the fake acts
// on (see honoured), nil to report no ignored member. A body that is not
// one JSON value in UTF-8 (awsproto.DecodeBytes), or a member of the wrong
// type, is an error with code.
func checkRequest(body []byte, schema *smithy.Schema, honoured *patternSet, code string) (*request, error) {
	var b json.RawMessage
	if err := awsproto.DecodeBytes(body, &b, code); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, awsproto.Errorf(http.StatusBadRequest, code, "request body is not valid JSON: %v", err)
	}
	c := checker{honoured: honoured}
	if err := c.check(v, schema, "", "", honoured == nil); err != nil {
		return nil, awsproto.Errorf(http.StatusBadRequest, code, "%s", err.Error())
	}
	req := &request{body: b, ignored: c.ignored, unknown: c.unknown}
	if len(c.unknown) > 0 {
		var err error
		if req.body, err = json.Marshal(v); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// patternSet tells, for a member pattern, whether the fake acts on it
// (honoured: the member or an ancestor is listed) or on some of it
// (partial: a descendant is listed).
type patternSet struct {
	full, partial map[string]bool
}

// patterns makes a patternSet of member patterns such as
// "containerDefinitions[].portMappings[].containerPort" ("[]" stands for
// any index, "{}" for any map key).
func patterns(list []string) *patternSet {
	ps := &patternSet{full: map[string]bool{}, partial: map[string]bool{}}
	for _, p := range list {
		ps.full[p] = true
		for i := range len(p) {
			if p[i] == '.' || p[i] == '[' {
				ps.partial[p[:i]] = true
			}
		}
	}
	return ps
}

// checker walks a decoded JSON value beside its schema.
type checker struct {
	honoured *patternSet
	ignored  []string
	unknown  []string
}

// check checks v against schema s at path (as the client named it, with
// indexes) and pattern (the path with "[]" and "{}" for indexes and keys).
// covered is true when the fake acts on the whole of v or does not report
// what it ignores.
func (c *checker) check(v any, s *smithy.Schema, path, pattern string, covered bool) error {
	if v == nil {
		return nil // null is an absent member
	}
	switch s.Type() {
	case smithy.ShapeTypeStructure, smithy.ShapeTypeUnion:
		return c.structure(v, s, path, pattern, covered)
	case smithy.ShapeTypeList, smithy.ShapeTypeSet:
		list, ok := v.([]any)
		if !ok {
			return typeError(path, v, "a list")
		}
		for i, e := range list {
			if err := c.check(e, s.ListMember(), path+"["+strconv.Itoa(i)+"]", pattern+"[]", covered); err != nil {
				return err
			}
		}
	case smithy.ShapeTypeMap:
		m, ok := v.(map[string]any)
		if !ok {
			return typeError(path, v, "a map")
		}
		for _, k := range sortedKeys(m) {
			if err := c.check(m[k], s.MapValue(), path+"."+k, pattern+".{}", covered); err != nil {
				return err
			}
		}
	case smithy.ShapeTypeDocument:
	default:
		return scalar(v, s.Type(), path)
	}
	return nil
}

// structure checks the members of a structure or union.
func (c *checker) structure(v any, s *smithy.Schema, path, pattern string, covered bool) error {
	m, ok := v.(map[string]any)
	if !ok {
		return typeError(path, v, "a structure")
	}
	members := s.Members()
	set := 0
	for _, k := range sortedKeys(m) {
		mp, mpat := join(path, k), join(pattern, k)
		ms, known := members[k]
		if !known {
			c.unknown = append(c.unknown, mp)
			delete(m, k)
			continue
		}
		if m[k] == nil {
			continue
		}
		set++
		full := covered || c.honoured.full[mpat]
		if !full && !c.honoured.partial[mpat] {
			if !empty(m[k]) {
				c.ignored = append(c.ignored, mp)
			}
			full = true // reported once, at the top of what is ignored
		}
		if err := c.check(m[k], ms, mp, mpat, full); err != nil {
			return err
		}
	}
	if s.Type() == smithy.ShapeTypeUnion && set > 1 {
		return fmt.Errorf("Invalid value for parameter %s: a union takes exactly one member, got %d.", cmpPath(path), set)
	}
	return nil
}

// scalar checks a value of a simple shape type.
func scalar(v any, typ smithy.ShapeType, path string) error {
	switch typ {
	case smithy.ShapeTypeString, smithy.ShapeTypeEnum, smithy.ShapeTypeBlob:
		if _, ok := v.(string); !ok {
			return typeError(path, v, "a string")
		}
	case smithy.ShapeTypeBoolean:
		if _, ok := v.(bool); !ok {
			return typeError(path, v, "a boolean")
		}
	case smithy.ShapeTypeByte, smithy.ShapeTypeShort, smithy.ShapeTypeInteger, smithy.ShapeTypeLong, smithy.ShapeTypeIntEnum:
		n, ok := v.(json.Number)
		if !ok {
			return typeError(path, v, "an integer")
		}
		i, err := n.Int64()
		if bits := intBits(typ); err != nil || i < -1<<(bits-1) || i > 1<<(bits-1)-1 {
			return fmt.Errorf("Invalid value for parameter %s: %s is not a %d-bit integer.", path, n, intBits(typ))
		}
	case smithy.ShapeTypeFloat, smithy.ShapeTypeDouble, smithy.ShapeTypeBigDecimal, smithy.ShapeTypeBigInteger:
		n, ok := v.(json.Number)
		if !ok {
			return typeError(path, v, "a number")
		}
		if f, err := n.Float64(); err != nil || math.IsInf(f, 0) {
			return fmt.Errorf("Invalid value for parameter %s: %s is out of range.", path, n)
		}
	case smithy.ShapeTypeTimestamp:
		if _, ok := v.(json.Number); !ok {
			return typeError(path, v, "a timestamp (epoch seconds)")
		}
	}
	return nil
}

// intBits returns the width of an integer shape type.
func intBits(typ smithy.ShapeType) int {
	switch typ {
	case smithy.ShapeTypeByte:
		return 8
	case smithy.ShapeTypeShort:
		return 16
	case smithy.ShapeTypeLong:
		return 64
	}
	return 32
}

// typeError says that the member at path holds v where the model wants
// another type.
func typeError(path string, v any, want string) error {
	return fmt.Errorf("Invalid type for parameter %s: got %s, want %s.", cmpPath(path), jsonKind(v), want)
}

// cmpPath names the request itself when path is empty.
func cmpPath(path string) string {
	if path == "" {
		return "the request body"
	}
	return path
}

// jsonKind names the JSON type of v.
func jsonKind(v any) string {
	switch v := v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "the number " + v.String()
	}
	return "null"
}

// empty reports whether v asks for nothing: false, or an empty list or
// object.
func empty(v any) bool {
	switch v := v.(type) {
	case bool:
		return !v
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
}

func join(path, member string) string {
	if path == "" {
		return member
	}
	return path + "." + member
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// reportIgnored sends a "request.ignored" event naming the members of a
// successful request of operation op that the fake accepted without
// acting on them, and those the ECS API does not have. The event's
// resource is the name of what the request made or changed.
func (f *Fake) reportIgnored(op string, req *request) {
	if len(req.ignored) == 0 && len(req.unknown) == 0 {
		return
	}
	resource := resourceName(op, req.body)
	detail := map[string]string{contract.DetailOperation: op}
	if len(req.ignored) > 0 {
		detail[contract.DetailIgnored] = strings.Join(req.ignored, ",")
	}
	if len(req.unknown) > 0 {
		detail[contract.DetailUnknown] = strings.Join(req.unknown, ",")
	}
	f.emit(contract.EventRequestIgnored, resource, detail)
}
