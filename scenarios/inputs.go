package scenarios

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/distribution/reference"
	vegeta "github.com/tsenart/vegeta/v12/lib"
	"golang.org/x/net/http/httpguts"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"gopkg.in/yaml.v3"
)

// This file decodes the fields through which a scenario brings in the
// user's own software, definitions and traffic: images, commands,
// environments, files and requests.

// MaxInputFile is the largest file a scenario may name (task definition,
// service, targets or protoset file).
const MaxInputFile = 8 << 20

// builtinPrefix starts the file name of a built-in scenario.
const builtinPrefix = "builtin:"

// baseDir is the directory the relative paths of the scenario file are
// resolved against: the file's own, or the working directory for a
// built-in scenario.
func baseDir(file string) string {
	if strings.HasPrefix(file, builtinPrefix) {
		return ""
	}
	return filepath.Dir(file)
}

// validEnvName is a POSIX environment variable name.
var validEnvName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,254}$`)

func (d *decoder) envName(n *yaml.Node, field string, dst *string) {
	s, ok := d.scalar(n, field)
	if !ok {
		return
	}
	if !validEnvName.MatchString(s) {
		d.errorf(n, "%s %q is not an environment variable name: use letters, digits and '_', not starting with a digit", field, s)
		return
	}
	*dst = s
}

// label decodes text that reports, the dashboard and event details show:
// one line of at most max characters, not blank, without control
// characters.
func (d *decoder) label(n *yaml.Node, field string, max int, dst *string) {
	s, ok := d.scalar(n, field)
	if !ok {
		return
	}
	switch {
	case strings.TrimSpace(s) == "":
		d.errorf(n, "%s is blank", field)
	case utf8.RuneCountInString(s) > max:
		d.errorf(n, "%s is %d characters long: at most %d", field, utf8.RuneCountInString(s), max)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		d.errorf(n, "%s %q holds a control character (a line break, tab…): give one line of text", field, s)
	default:
		*dst = s
	}
}

// env decodes a mapping of environment variable names to values.
func (d *decoder) env(n *yaml.Node, field string) map[string]string {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping of variable names to values, such as {LOG_LEVEL: debug}, not %s", field, kindName(n))
		return nil
	}
	env := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var name, value string
		d.envName(k, field+" name", &name)
		if name == "" {
			continue
		}
		if _, dup := env[name]; dup {
			d.errorf(k, "%s: %s appears twice", field, name)
			continue
		}
		if !d.text(v, field+"."+name, &value) {
			continue
		}
		env[name] = value
	}
	return env
}

// text decodes a scalar that must not hold a NUL byte (which no process
// environment or argument can carry).
func (d *decoder) text(n *yaml.Node, field string, dst *string) bool {
	s, ok := d.scalar(n, field)
	if !ok {
		return false
	}
	if strings.IndexByte(s, 0) >= 0 {
		d.errorf(n, "%s holds a NUL byte", field)
		return false
	}
	*dst = s
	return true
}

// command decodes a process's argument list.
func (d *decoder) command(n *yaml.Node, dst *[]string) {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		d.errorf(n, `versions[].command must be a non-empty list of arguments, such as ["./bin/api", "--port", "8080"], not %s`, kindName(n))
		return
	}
	args := make([]string, 0, len(n.Content))
	for i, item := range n.Content {
		var a string
		if !d.text(item, fmt.Sprintf("versions[].command[%d]", i), &a) {
			return
		}
		args = append(args, a)
	}
	if strings.TrimSpace(args[0]) == "" {
		d.errorf(n.Content[0], "versions[].command[0] is empty: it names the program to run")
		return
	}
	*dst = args
}

// CheckCommands checks that the program of each version's command exists
// and can be run, as the inproc runtime will look for it: the error, an
// Errors, names each version that cannot run. Parse does not check it (a
// scenario may be written before its program is built); call it before a
// run that starts the commands.
func (sc *Scenario) CheckCommands() error {
	var errs Errors
	for _, s := range sc.Services {
		for _, v := range s.Versions {
			if len(v.Command) == 0 {
				continue
			}
			if err := findProgram(v.Command[0], baseDir(sc.Source)); err != nil {
				errs = append(errs, &Error{Pos: v.Pos, Msg: fmt.Sprintf("service %q version %q: command %q: %v", s.Name, v.Name, v.Command[0], err)})
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// findProgram checks that name is a program a task can run: a name
// without a slash is looked up in PATH; a path is taken relative to dir,
// where the command runs (the scenario file's directory).
func findProgram(name, dir string) error {
	if !strings.ContainsRune(name, '/') && !strings.ContainsRune(name, filepath.Separator) {
		if _, err := exec.LookPath(name); err != nil {
			return fmt.Errorf("no such program in PATH")
		}
		return nil
	}
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s does not exist (a relative path is taken from the scenario file's directory)", path)
	case err != nil:
		return err
	case !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

// image decodes a Docker image reference.
func (d *decoder) image(n *yaml.Node, dst *string) {
	s, ok := d.scalar(n, "versions[].image")
	if !ok {
		return
	}
	if _, err := reference.ParseNormalizedNamed(s); err != nil {
		d.errorf(n, "versions[].image %q is not a Docker image reference (such as myorg/api:1.3): %v", s, err)
		return
	}
	*dst = s
}

// stopTimeout decodes ECS's containerDefinitions.stopTimeout.
func (d *decoder) stopTimeout(n *yaml.Node, dst *time.Duration) {
	var v time.Duration
	before := len(d.errs)
	d.duration(n, "versions[].stopTimeout", &v)
	if len(d.errs) > before {
		return
	}
	if v < 2*time.Second || v > 120*time.Second || v%time.Second != 0 {
		d.errorf(n, "versions[].stopTimeout is %s: ECS takes whole seconds from 2s to 120s", v)
		return
	}
	*dst = v
}

// inputFile decodes a path relative to the scenario's directory, checks that it
// names a readable regular file no larger than MaxInputFile, and returns
// its absolute path and content.
func (d *decoder) inputFile(n *yaml.Node, field string) (string, []byte, bool) {
	s, ok := d.scalar(n, field)
	if !ok {
		return "", nil, false
	}
	if s == "" || strings.IndexByte(s, 0) >= 0 {
		d.errorf(n, "%s must be a file path, not %q", field, s)
		return "", nil, false
	}
	p := s
	if !filepath.IsAbs(p) {
		p = filepath.Join(d.dir, p)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		d.errorf(n, "%s %q: %v", field, s, err)
		return "", nil, false
	}
	data, err := readInput(abs)
	if err != nil {
		d.errorf(n, "%s: %v", field, err)
		return "", nil, false
	}
	return abs, data, true
}

// readInput reads a file a scenario names, refusing what is not a regular
// file or larger than MaxInputFile.
func readInput(path string) ([]byte, error) {
	// Stat before opening: opening a named pipe would wait for a writer.
	if st, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s does not exist", path)
	} else if err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxInputFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(data) > MaxInputFile {
		return nil, fmt.Errorf("%s is larger than the %d MiB a scenario's files may be", path, MaxInputFile>>20)
	}
	return data, nil
}

// jsonFile decodes the path of a JSON document (an AWS CLI
// --cli-input-json file) and checks that it holds one JSON object.
func (d *decoder) jsonFile(n *yaml.Node, field string, dst *string) {
	abs, data, ok := d.inputFile(n, field)
	if !ok {
		return
	}
	if err := oneJSONObject(data); err != nil {
		d.errorf(n, "%s %s: %v", field, abs, err)
		return
	}
	*dst = abs
}

// oneJSONObject checks that data is exactly one JSON object.
func oneJSONObject(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			line, col := lineCol(data, int(syn.Offset)-1) // Offset is after the bad byte
			return fmt.Errorf("line %d, column %d: %v", line, col, err)
		}
		return fmt.Errorf("not a JSON object: %v", err)
	}
	if obj == nil {
		return errors.New("not a JSON object: null")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("more than one JSON value")
	}
	return nil
}

// lineCol turns a byte offset into a 1-based line and column (in bytes).
func lineCol(data []byte, offset int) (int, int) {
	offset = min(max(offset, 0), len(data))
	before := data[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	col := offset - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// targetsFile decodes the path of a vegeta HTTP targets file and checks
// that vegeta parses every target in it.
func (d *decoder) targetsFile(n *yaml.Node, dst *string) {
	abs, data, ok := d.inputFile(n, "load.targetsFile")
	if !ok {
		return
	}
	targeter := vegeta.NewHTTPTargeter(bytes.NewReader(data), nil, nil)
	count := 0
	for {
		var t vegeta.Target
		err := targeter(&t)
		if errors.Is(err, vegeta.ErrNoTargets) {
			break
		}
		if err != nil {
			d.errorf(n, "load.targetsFile %s: target %d: %v", abs, count+1, err)
			return
		}
		count++
	}
	if count == 0 {
		d.errorf(n, "load.targetsFile %s holds no targets (vegeta's format: one \"METHOD URL\" line, then headers and @body, per target)", abs)
		return
	}
	*dst = abs
}

// requestPath decodes an HTTP request path (and query): it starts with /
// and holds no whitespace or control character.
func (d *decoder) requestPath(n *yaml.Node, field string, dst *string) {
	s, ok := d.scalar(n, field)
	if !ok {
		return
	}
	if err := checkRequestPath(s); err != nil {
		d.errorf(n, "%s %q: %v", field, s, err)
		return
	}
	*dst = s
}

func checkRequestPath(s string) error {
	if !strings.HasPrefix(s, "/") {
		return errors.New("it must start with /")
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }); i >= 0 {
		return fmt.Errorf("byte %d is a space or control character (CR, LF, tab…): percent-encode it", i+1)
	}
	if _, err := url.ParseRequestURI(s); err != nil {
		return fmt.Errorf("not a request path: %v", errors.Unwrap(err))
	}
	return nil
}

func (d *decoder) method(n *yaml.Node, dst *string) {
	s, ok := d.scalar(n, "requests[].method")
	if !ok {
		return
	}
	if s == "" || strings.IndexFunc(s, func(r rune) bool { return !httpguts.IsTokenRune(r) }) >= 0 {
		d.errorf(n, "requests[].method %q is not an HTTP method (such as GET or POST)", s)
		return
	}
	*dst = s
}

// headers decodes a mapping of HTTP header names to values.
func (d *decoder) headers(n *yaml.Node) map[string]string {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "requests[].headers must be a mapping of header names to values, such as {Authorization: Bearer x}, not %s", kindName(n))
		return nil
	}
	h := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !httpguts.ValidHeaderFieldName(k.Value) {
			d.errorf(k, "requests[].headers: %q is not an HTTP header name", k.Value)
			continue
		}
		if _, dup := h[k.Value]; dup {
			d.errorf(k, "requests[].headers: %s appears twice", k.Value)
			continue
		}
		val, ok := d.scalar(v, "requests[].headers."+k.Value)
		if !ok {
			continue
		}
		if !httpguts.ValidHeaderFieldValue(val) {
			d.errorf(v, "requests[].headers.%s holds a character a header value cannot (CR, LF, NUL)", k.Value)
			continue
		}
		h[k.Value] = val
	}
	return h
}

// validGRPCMethod is a full gRPC method name: package.Service/Method.
var validGRPCMethod = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*\.)*[A-Za-z_][A-Za-z0-9_]*/[A-Za-z_][A-Za-z0-9_]*$`)

func (d *decoder) grpcMethod(n *yaml.Node, dst *string) {
	s, ok := d.scalar(n, "load.grpcMethod")
	if !ok {
		return
	}
	if !validGRPCMethod.MatchString(s) {
		d.errorf(n, "load.grpcMethod %q: give the full method, package.Service/Method (such as echo.v1.Echo/Say)", s)
		return
	}
	*dst = s
}

// jsonObject decodes a JSON object given as a YAML mapping or as a string
// of JSON, and returns it as JSON.
func (d *decoder) jsonObject(n *yaml.Node, field string) json.RawMessage {
	switch n.Kind {
	case yaml.MappingNode:
		var v any
		if err := n.Decode(&v); err != nil {
			d.errorf(n, "%s: %v", field, err)
			return nil
		}
		data, err := json.Marshal(jsonValue(v))
		if err != nil {
			d.errorf(n, "%s cannot be JSON: %v", field, err)
			return nil
		}
		return data
	case yaml.ScalarNode:
		if err := oneJSONObject([]byte(n.Value)); err != nil {
			d.errorf(n, "%s: %v", field, err)
			return nil
		}
		return json.RawMessage(n.Value)
	}
	d.errorf(n, `%s must be a JSON object, as a mapping ({name: x}) or a string ('{"name": "x"}'), not %s`, field, kindName(n))
	return nil
}

// jsonValue turns what yaml.v3 decodes into what encoding/json encodes:
// mappings with keys other than strings get string keys.
func jsonValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = jsonValue(x)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[fmt.Sprint(k)] = jsonValue(x)
		}
		return m
	case []any:
		for i, x := range v {
			v[i] = jsonValue(x)
		}
		return v
	}
	return v
}

// protoset decodes the path of a FileDescriptorSet (protoc
// --descriptor_set_out --include_imports) and checks that it holds one.
func (d *decoder) protoset(n *yaml.Node, dst *string) {
	abs, data, ok := d.inputFile(n, "load.protoset")
	if !ok {
		return
	}
	if _, err := protoFiles(data); err != nil {
		d.errorf(n, "load.protoset %s: %v", abs, err)
		return
	}
	*dst = abs
}

// protoFiles parses a FileDescriptorSet.
func protoFiles(data []byte) (*protoregistry.Files, error) {
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("not a FileDescriptorSet (protoc --descriptor_set_out --include_imports): %v", err)
	}
	if len(set.File) == 0 {
		return nil, errors.New("the FileDescriptorSet holds no files")
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		return nil, fmt.Errorf("the FileDescriptorSet does not resolve (build it with --include_imports): %v", err)
	}
	return files, nil
}

// checkProtosetMethod checks that the protoset at path describes method.
func (d *decoder) checkProtosetMethod(n *yaml.Node, path, method string) {
	data, err := readInput(path)
	if err != nil {
		d.errorf(n, "load.protoset: %v", err)
		return
	}
	files, err := protoFiles(data)
	if err != nil {
		return // reported by protoset
	}
	svc, name, _ := strings.Cut(method, "/")
	desc, err := files.FindDescriptorByName(protoreflect.FullName(svc))
	if err != nil {
		d.errorf(n, "load.protoset %s describes no service %s (load.grpcMethod)", path, svc)
		return
	}
	sd, ok := desc.(protoreflect.ServiceDescriptor)
	if !ok {
		d.errorf(n, "load.protoset %s: %s is not a service (load.grpcMethod)", path, svc)
		return
	}
	if sd.Methods().ByName(protoreflect.Name(name)) == nil {
		d.errorf(n, "load.protoset %s: service %s has no method %s (load.grpcMethod)", path, svc, name)
	}
}
