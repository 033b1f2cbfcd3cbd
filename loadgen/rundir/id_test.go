package rundir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Many runs started in the same second, at once, each get a directory of
// their own, and each writes its run into it.
func TestMakeUniqueConcurrent(t *testing.T) {
	parent := filepath.Join(t.TempDir(), "meshsim-runs")
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const runs = 64
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ids  = map[string]bool{}
		errs []error
	)
	for range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, dir, err := MakeUnique(parent, start, "canary")
			if err == nil {
				var w *Writer
				if w, err = Create(dir, Meta{RunID: id, Scenario: "canary"}); err == nil {
					err = w.Close()
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			if ids[id] {
				errs = append(errs, errors.New("id "+id+" handed out twice"))
			}
			ids[id] = true
			if !strings.HasPrefix(id, "20260301-120000-") || !strings.HasSuffix(id, "-canary") || filepath.Base(dir) != id {
				errs = append(errs, errors.New("bad id "+id+" for "+dir))
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != runs || len(ids) != runs {
		t.Errorf("%d directories, %d ids for %d runs", len(entries), len(ids), runs)
	}
}

// An existing directory is never taken: MakeUnique draws again.
func TestMakeUniqueSkipsTaken(t *testing.T) {
	parent := t.TempDir()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	id, dir, err := MakeUnique(parent, start, "s")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Create(dir, Meta{RunID: id}); err != nil {
		t.Fatal(err)
	}
	// An id drawn again is not taken: the next one is.
	draws := []string{id, id, "other"}
	again, dir2, err := makeUnique(parent, func() string { d := draws[0]; draws = draws[1:]; return d })
	if err != nil || again != "other" || dir2 != filepath.Join(parent, "other") {
		t.Errorf("makeUnique with a taken id: %q %q %v, want other", again, dir2, err)
	}
	// A second writer on the same directory is refused with ErrRunExists.
	if _, err := Create(dir, Meta{RunID: id}); !errors.Is(err, ErrRunExists) {
		t.Errorf("second Create on %s: %v, want ErrRunExists", dir, err)
	}
}
