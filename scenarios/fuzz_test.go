package scenarios

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"testing"
	"time"
)

// errorPlace is what every line of a parse error starts with.
var errorPlace = regexp.MustCompile(`^fuzz\.yaml:[1-9][0-9]*:[1-9][0-9]*: \S`)

// FuzzParse feeds the parser arbitrary files: it must never panic, and
// every problem it reports names file:line:col. The seed corpus is every
// built-in scenario and the malformed files of the other tests. Run it
// longer by hand: go test -run=^$ -fuzz=FuzzParse -fuzztime=5m ./scenarios
func FuzzParse(f *testing.F) {
	entries, err := fs.ReadDir(builtin, "builtin")
	if err != nil {
		f.Fatal(err)
	}
	if len(entries) == 0 {
		f.Fatal("no built-in scenarios")
	}
	for _, e := range entries {
		data, err := builtin.ReadFile("builtin/" + e.Name())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, src := range []string{
		valid, deployments, userSoftware, grpcLoad,
		valid + "---\nname: other\n",
		valid + "faults:\n  - {action: delay, service: api, step: nope, delay: 1s}\n",
		strings.Replace(valid, "bake: 2s}", "bake: 2562047h}", 1),
		strings.Replace(valid, "load: {rate: 100}", "load: {rate: 100, path: \"/a\\r\\nb\"}", 1),
		strings.Replace(valid, "  - name: api\n", "  - name: api\n    backends: [web]\n    healthCheckPath: \"/he'alth\"\n", 1),
		strings.Replace(valid, "name: demo\n", "name: demo\nregion: us east 1\nnamespace: a b\n", 1),
		"name: a\nload: {rate: 100\nx: [\n",
		"name: a\nservices:\n  - name: b\n   port: 3\n",
		"name: a\nkey: a: b\n",
		"name: a\nkey: \"abc\n",
		"name: a\nkey:\n\t- x\n",
		"a: &x [*x]\nb: *nope\n",
		"name: d\xc3",
		"",
		"- a\n- b\n",
		"name: a\ninstrument: {maxLag: 1s, minAchieved: 2}\nload: {grpcRequest: {a: [1, {b: c}]}}\n",
	} {
		f.Add([]byte(src))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		hung := time.AfterFunc(20*time.Second, func() { panic(fmt.Sprintf("Parse hung on %q", data)) })
		defer hung.Stop()
		sc, err := Parse("fuzz.yaml", data)
		if err == nil {
			if sc == nil {
				t.Fatal("no scenario and no error")
			}
			return
		}
		var es Errors
		if !errors.As(err, &es) || len(es) == 0 {
			t.Fatalf("error %v (%T) is not a list of Errors", err, err)
		}
		for _, e := range es {
			if !errorPlace.MatchString(e.Error()) {
				t.Fatalf("error %q does not start with file:line:col", e)
			}
			if e.Pos.File != "fuzz.yaml" || e.Pos.Line < 1 || e.Pos.Column < 1 {
				t.Fatalf("error %q is not at file:line:col", e)
			}
			if last, _ := runePos(data, len(data)); e.Pos.Line > last {
				t.Fatalf("error %q is beyond the file's last line", e)
			}
		}
	})
}
