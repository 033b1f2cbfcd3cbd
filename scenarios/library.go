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
	data, err := builtin.ReadFile(path.Join("builtin", name+".yaml"))
	if err != nil {
		return nil, fmt.Errorf("no built-in scenario %q (see `meshsim scenarios list`)", name)
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
		return nil, fmt.Errorf("no built-in scenario %q (see `meshsim scenarios list`)", name)
	}
	return data, nil
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
