package rundir

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// NewID returns a run id for a run of scenario started at t:
// "20260301-120000-3f9a1c-canary", the start to the second, six random
// hex digits and the scenario's name. The random part keeps the ids of
// runs started in the same second apart.
func NewID(t time.Time, scenario string) string {
	var b [3]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24)
	return t.Format("20060102-150405") + "-" + hex.EncodeToString(b[:]) + "-" + scenario
}

// maxIDTries bounds MakeUnique's retries; each collides only when another
// run drew the same 24 random bits in the same second.
const maxIDTries = 16

// MakeUnique creates a new, empty run directory under parent (creating
// parent if needed) named by a fresh NewID, and returns the id and the
// directory. The directory is created exclusively: when another run
// created the same name first, it draws another id, so two runs never
// share a directory, however close together they start.
func MakeUnique(parent string, t time.Time, scenario string) (id, dir string, err error) {
	return makeUnique(parent, func() string { return NewID(t, scenario) })
}

// makeUnique is MakeUnique drawing its ids from newID.
func makeUnique(parent string, newID func() string) (id, dir string, err error) {
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", "", fmt.Errorf("rundir: creating %s: %w", parent, err)
	}
	for range maxIDTries {
		id = newID()
		dir = filepath.Join(parent, id)
		err = os.Mkdir(dir, 0o755)
		if err == nil {
			return id, dir, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", "", fmt.Errorf("rundir: creating %s: %w", dir, err)
		}
	}
	return "", "", fmt.Errorf("rundir: no free run directory under %s after %d tries: %w", parent, maxIDTries, err)
}
