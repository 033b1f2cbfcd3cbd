package contract_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/meshsim/meshsim/sim/contract"
)

// moduleRoot is the repository's root, two levels above this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s: %v", root, err)
	}
	return root
}

// The AWS API fakes, the engine and the dashboard name the data plane's
// contracts through this package, so none of them links Envoy's API.
func TestControlPackagesLinkNoEnvoy(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH: cannot list dependencies")
	}
	for _, pkg := range []string{"./sim/ecs", "./scenarios/engine", "./tui"} {
		cmd := exec.Command(goTool, "list", "-deps", pkg)
		cmd.Dir = moduleRoot(t)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.Contains(dep, "envoyproxy") {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
}

// Each attribution header's name is spelled once in the module's code: here.
func TestAttributionNamesSpelledOnce(t *testing.T) {
	names := map[string]int{}
	for _, n := range []string{contract.HeaderVersion, contract.HeaderTask, contract.HeaderChain, contract.HeaderProxy} {
		names[strings.ToLower(n)] = 0
	}
	root := moduleRoot(t)
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			if _, ok := names[strings.ToLower(s)]; ok {
				names[strings.ToLower(s)]++
				if !strings.HasSuffix(filepath.ToSlash(path), "sim/contract/contract.go") {
					t.Errorf("%s: %q spelled outside sim/contract", fset.Position(lit.Pos()), s)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for n, c := range names {
		if c != 1 {
			t.Errorf("%q is spelled %d times, want once", n, c)
		}
	}
}

func TestNodeID(t *testing.T) {
	if got, want := contract.NodeID("bookingapp", "movie-v1"), "mesh/bookingapp/virtualNode/movie-v1"; got != want {
		t.Errorf("NodeID = %q, want %q", got, want)
	}
}
