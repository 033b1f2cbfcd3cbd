package docker

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestStaticLinux tells a static linux binary, which the image can run,
// from what it cannot.
func TestStaticLinux(t *testing.T) {
	if testing.Short() {
		t.Skip("builds meshsim; skipped with -short")
	}
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := BuildBinary(context.Background(), filepath.Dir(strings.TrimSpace(string(gomod))), runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(filepath.Dir(bin))
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	tests := []struct {
		path, arch, want string
	}{
		{bin, runtime.GOARCH, ""},
		{bin, other, "is built for"},
		{"image_test.go", runtime.GOARCH, "is not a linux executable"},
		{"/bin/sh", runtime.GOARCH, "dynamically linked"},
	}
	for _, tt := range tests {
		if _, err := os.Stat(tt.path); err != nil {
			continue
		}
		err := staticLinux(tt.path, tt.arch)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("staticLinux(%s, %s): %v", tt.path, tt.arch, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			if tt.path == "/bin/sh" && err == nil {
				continue // a static shell
			}
			t.Errorf("staticLinux(%s, %s): %v, want %q", tt.path, tt.arch, err, tt.want)
		}
	}
}
