// Package tinyapptest builds examples/tinyapp, an HTTP service that knows
// nothing of meshsim (it sets no meshsim header), for tests that rehearse a
// user's own software.
package tinyapptest

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Build compiles tinyapp into a directory of tb's and returns the binary's
// path.
func Build(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "tinyapp")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(goTool, "build", "-o", bin, "github.com/meshsim/meshsim/examples/tinyapp").CombinedOutput()
	if err != nil {
		tb.Fatalf("go build tinyapp: %v\n%s", err, out)
	}
	return bin
}
