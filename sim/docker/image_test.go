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

// TestBinaryDigest names an image by the binary's Go build ID, which the
// go tool reads the same way, and by the whole file when there is none.
func TestBinaryDigest(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads ELF executables")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	want, err := exec.Command("go", "tool", "buildid", self).Output()
	if err != nil {
		t.Skipf("go tool buildid: %v", err)
	}
	if got := goBuildID(self); got != strings.TrimSpace(string(want)) {
		t.Errorf("goBuildID(test binary) = %q, go tool buildid says %q", got, want)
	}

	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b := write("a", []byte("not an executable")), write("b", []byte("another file"))
	digest := func(p string) string {
		d, err := binaryDigest(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(d) != 64 {
			t.Fatalf("binaryDigest(%s) = %q, want 64 hex digits", p, d)
		}
		return d
	}
	if goBuildID(a) != "" {
		t.Errorf("goBuildID(a text file) = %q, want none", goBuildID(a))
	}
	if digest(a) == digest(b) {
		t.Error("two files without a build ID have the same digest")
	}
	if digest(a) != digest(write("a2", []byte("not an executable"))) {
		t.Error("the same content has two digests")
	}
	if digest(self) == digest(a) || digest(self) != digest(self) {
		t.Error("the test binary's digest is not its own")
	}
	if _, err := binaryDigest(filepath.Join(dir, "missing")); err == nil {
		t.Error("binaryDigest of a missing file: no error")
	}
}
