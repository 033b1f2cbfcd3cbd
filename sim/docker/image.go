package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// ImageRepository is the repository of meshsim's image. Its tag is the
// first 16 hex digits of a SHA-256 of the image's recipe and the binary
// inside (see binaryDigest), so a second run of the same binary finds the
// image built by the first.
const ImageRepository = "meshsim/meshsim"

// modulePath is the module whose main package is the meshsim command.
const modulePath = "github.com/meshsim/meshsim"

// Binary returns the path of a static linux meshsim binary for the
// engine's architecture, to put in the image: self, the meshsim command
// that runs (os.Executable), when it is one; otherwise one built with
// "CGO_ENABLED=0 go build" from the meshsim module in the working
// directory or above it (progress is written to log). remove deletes a
// built binary and is a no-op otherwise.
func Binary(ctx context.Context, cli *testcontainers.DockerClient, self string, log io.Writer) (path string, remove func(), err error) {
	arch, err := engineArch(ctx, cli)
	if err != nil {
		return "", nil, err
	}
	exe, err := filepath.EvalSymlinks(self)
	if err != nil {
		return "", nil, fmt.Errorf("locating the meshsim executable: %w", err)
	}
	why := staticLinux(exe, arch)
	if why == nil {
		return exe, func() {}, nil
	}
	dir, err := moduleDir()
	if err != nil {
		return "", nil, fmt.Errorf("the docker runtime runs meshsim itself in its containers, but %s %v, and %w; "+
			"build meshsim with CGO_ENABLED=0 GOOS=linux GOARCH=%s go build, or run it from the meshsim source directory",
			exe, why, err, arch)
	}
	fmt.Fprintf(log, "meshsim: building a static linux/%s meshsim for the containers (%s; CGO_ENABLED=0 go build in %s)\n", arch, why, dir)
	bin, err := BuildBinary(ctx, dir, arch)
	if err != nil {
		return "", nil, err
	}
	return bin, func() { os.RemoveAll(filepath.Dir(bin)) }, nil
}

// BuildBinary builds the meshsim command of the module in dir for
// linux/arch with cgo disabled (a static binary), into a new temporary
// directory, and returns its path. -trimpath makes the binary, and so the
// image tag, the same wherever the source is checked out.
func BuildBinary(ctx context.Context, dir, arch string) (string, error) {
	tmp, err := os.MkdirTemp("", "meshsim-image-")
	if err != nil {
		return "", fmt.Errorf("building meshsim: %w", err)
	}
	out := filepath.Join(tmp, "meshsim")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if output, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("building meshsim for linux/%s in %s: %w\n%s", arch, dir, err, output)
	}
	return out, nil
}

// engineArch returns the engine's architecture as GOARCH spells it.
func engineArch(ctx context.Context, cli *testcontainers.DockerClient) (string, error) {
	v, err := cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return "", fmt.Errorf("asking the Docker engine for its version: %w", err)
	}
	if v.Os != "linux" {
		return "", fmt.Errorf("the Docker engine runs %s containers; meshsim's docker runtime needs linux containers", v.Os)
	}
	return v.Arch, nil
}

// elfMachines maps GOARCH values to ELF machine types.
var elfMachines = map[string]elf.Machine{
	"amd64":   elf.EM_X86_64,
	"arm64":   elf.EM_AARCH64,
	"386":     elf.EM_386,
	"arm":     elf.EM_ARM,
	"riscv64": elf.EM_RISCV,
	"ppc64le": elf.EM_PPC64,
	"s390x":   elf.EM_S390,
}

// staticLinux returns nil when the file at path is a statically linked
// linux executable for arch, and otherwise says what it is.
func staticLinux(path, arch string) error {
	f, err := elf.Open(path)
	if err != nil {
		return errors.New("is not a linux executable")
	}
	defer f.Close()
	if want, ok := elfMachines[arch]; !ok || f.Machine != want {
		return fmt.Errorf("is built for %s, not for the engine's %s", f.Machine, arch)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("is dynamically linked (built with cgo)")
		}
	}
	return nil
}

// moduleDir returns the directory of the meshsim module that contains the
// working directory.
func moduleDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("no meshsim source found: %w", err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && goModModule(data) == modulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no meshsim source (a go.mod of module %s) in the working directory or above it", modulePath)
		}
		dir = parent
	}
}

// goModModule returns the module path a go.mod declares.
func goModModule(data []byte) string {
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}

// EnsureImage returns the tag of the image that runs the static linux
// meshsim binary at bin, building it FROM scratch when the engine does not
// have it yet (the build's output goes to buildLog). built reports whether
// it was built.
func EnsureImage(ctx context.Context, cli *testcontainers.DockerClient, bin string, buildLog io.Writer) (tag string, built bool, err error) {
	digest, err := binaryDigest(bin)
	if err != nil {
		return "", false, err
	}
	tag = ImageRepository + ":" + digest[:16]
	if _, err := cli.ImageInspect(ctx, tag); err == nil {
		return tag, false, nil
	} else if !cerrdefs.IsNotFound(err) {
		return "", false, fmt.Errorf("looking for image %s: %w", tag, err)
	}

	data, err := os.ReadFile(bin)
	if err != nil {
		return "", false, fmt.Errorf("reading the meshsim binary: %w", err)
	}
	archive, err := buildContext(fmt.Appendf(nil, dockerfile, digest), "meshsim", data)
	if err != nil {
		return "", false, err
	}
	if buildLog == nil {
		buildLog = io.Discard
	}
	provider, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(quiet))
	if err != nil {
		return "", false, fmt.Errorf("%w: %v", ErrNoEngine, err)
	}
	defer provider.Close()
	_, err = provider.BuildImage(ctx, &testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		ContextArchive: bytes.NewReader(archive),
		Dockerfile:     "Dockerfile",
		Repo:           ImageRepository,
		Tag:            digest[:16],
		KeepImage:      true,
		BuildLogWriter: buildLog,
	}})
	if err != nil {
		return "", false, fmt.Errorf("the Docker engine refused to build image %s (FROM scratch, the meshsim binary only; nothing is pulled): %w", tag, err)
	}
	return tag, true, nil
}

// binaryDigest returns the hex SHA-256 that names the image of the
// binary at path: of the image's recipe and the binary's Go build ID,
// whose last part is a hash of the binary's content (so a run need not
// read and hash the ~90 MB binary to find its image), or of the recipe
// and the whole binary when it carries no build ID.
func binaryDigest(path string) (string, error) {
	h := sha256.New()
	h.Write([]byte(dockerfile))
	if id := goBuildID(path); id != "" {
		h.Write([]byte("go build ID " + id))
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("reading the meshsim binary: %w", err)
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading the meshsim binary: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// goBuildID returns the Go build ID that the linker wrote into the ELF
// executable at path ("go tool buildid" prints it), or "" when it has none
// whose last part, the content hash, is set.
func goBuildID(path string) string {
	f, err := elf.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sec := f.Section(".note.go.buildid")
	if sec == nil {
		return ""
	}
	note, err := sec.Data()
	if err != nil || len(note) < 16 {
		return ""
	}
	// An ELF note: name size, descriptor size, type (4: Go's build ID),
	// the name "Go\x00\x00", then the descriptor, the ID itself.
	bo := f.ByteOrder
	nameSize, descSize, typ := bo.Uint32(note), bo.Uint32(note[4:]), bo.Uint32(note[8:])
	if nameSize != 4 || typ != 4 || string(note[12:16]) != "Go\x00\x00" || uint64(len(note)) < 16+uint64(descSize) {
		return ""
	}
	id := string(note[16 : 16+descSize])
	if i := strings.LastIndexByte(id, '/'); i < 0 || i == len(id)-1 {
		return ""
	}
	return id
}

// dockerfile is the image's recipe: the binary alone, nothing to pull,
// run as a non-root user (User; FROM scratch has no user names).
const dockerfile = `FROM scratch
COPY meshsim /meshsim
LABEL meshsim.image.sha256=%s
USER ` + User + `
ENTRYPOINT ["/meshsim"]
`

// buildContext returns the tar archive of an image's build context: the
// Dockerfile and the program binary under name.
func buildContext(dockerfile []byte, name string, binary []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	files := []struct {
		name string
		mode int64
		data []byte
	}{
		{"Dockerfile", 0o644, dockerfile},
		{name, 0o755, binary},
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			return nil, fmt.Errorf("image build context: %w", err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("image build context: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("image build context: %w", err)
	}
	return buf.Bytes(), nil
}

// BuildAppImage builds binary, a static linux program, into an image FROM
// scratch whose entrypoint is /app, tagged REPO:CONTENT-HASH, and returns
// the tag: a stand-in for a user's own image (nothing is pulled).
func BuildAppImage(ctx context.Context, cli *testcontainers.DockerClient, repo string, binary []byte) (string, error) {
	sum := sha256.Sum256(binary)
	tag := repo + ":" + hex.EncodeToString(sum[:8])
	archive, err := buildContext([]byte("FROM scratch\nCOPY app /app\nENTRYPOINT [\"/app\"]\n"), "app", binary)
	if err != nil {
		return "", err
	}
	res, err := cli.ImageBuild(ctx, bytes.NewReader(archive), client.ImageBuildOptions{Tags: []string{tag}, Remove: true, ForceRemove: true})
	if err != nil {
		return "", fmt.Errorf("building image %s: %w", tag, err)
	}
	out, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if _, err := cli.ImageInspect(ctx, tag); err != nil {
		return "", fmt.Errorf("building image %s: %w\n%s", tag, err, out)
	}
	return tag, nil
}
