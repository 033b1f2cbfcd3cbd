package scenarios

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
)

//go:embed builtin/*.yaml
var builtin embed.FS

// Info names a built-in scenario.
type Info struct {
	Name        string
	Description string
}

// List returns the built-in scenarios, sorted by name.
func List() ([]Info, error) {
	entries, err := fs.ReadDir(builtin, "builtin")
	if err != nil {
		return nil, fmt.Errorf("reading built-in scenarios: %w", err)
	}
	var infos []Info
	for _, e := range entries {
		sc, err := Builtin(strings.TrimSuffix(e.Name(), ".yaml"))
		if err != nil {
			return nil, err
		}
		infos = append(infos, Info{Name: sc.Name, Description: sc.Description})
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name < infos[j].Name })
	return infos, nil
}

// Builtin parses the built-in scenario name.
func Builtin(name string) (*Scenario, error) {
	data, err := BuiltinSource(name)
	if err != nil {
		return nil, err
	}
	sc, err := Parse("builtin:"+name, data)
	if err != nil {
		return nil, err
	}
	return sc, nil
}

// BuiltinSource returns the YAML of a built-in scenario, so a user can copy
// and change it.
func BuiltinSource(name string) ([]byte, error) {
	data, err := builtin.ReadFile(path.Join("builtin", name+".yaml"))
	if err != nil {
		if near := Suggest(name); near != "" {
			return nil, fmt.Errorf("no built-in scenario %q: did you mean %s? (see `meshsim scenarios list`)", name, near)
		}
		return nil, fmt.Errorf("no built-in scenario %q (see `meshsim scenarios list`)", name)
	}
	return data, nil
}

// Names returns the names of the built-in scenarios, sorted.
func Names() []string {
	entries, _ := fs.ReadDir(builtin, "builtin") // an embedded directory: no error
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(names)
	return names
}

// Suggest returns the built-in scenario name closest to name, when one is
// close enough to be a likely typo (an edit distance of at most a third of
// its length, and at least 2 allowed), or one that name is a prefix or
// part of; "" when none is.
func Suggest(name string) string {
	name = strings.ToLower(name)
	limit := max(2, len(name)/3)
	best, bestDist := "", -1
	for _, cand := range Names() {
		d := editDistance(name, cand)
		if d > limit && (len(name) < 3 || !strings.Contains(cand, name)) {
			continue
		}
		if bestDist < 0 || d < bestDist {
			best, bestDist = cand, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Resolve loads arg as a scenario file when a file of that name exists (or
// it ends in .yaml/.yml), and as a built-in scenario otherwise.
func Resolve(arg string) (*Scenario, error) {
	if _, err := os.Stat(arg); err == nil || strings.HasSuffix(arg, ".yaml") || strings.HasSuffix(arg, ".yml") {
		return LoadFile(arg)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("scenario %s: %w", arg, err)
	}
	return Builtin(arg)
}
