package rundir

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Run is a run directory read back into memory.
type Run struct {
	Meta         Meta
	Observations []Observation
	Events       []Event
	// Instrument holds the run's measurements of itself (empty for a run
	// written before they were recorded).
	Instrument []InstrumentSample
	// ScenarioCopy is ScenarioFile when the directory holds the copy of
	// the scenario the run rehearsed, "" otherwise.
	ScenarioCopy string
	// TornLines counts the lines, one at most per file, that were cut off
	// at the end of a file by a crash or by a writer still running, and were
	// skipped.
	TornLines int
}

// Read reads the run directory dir. It refuses a run written in a newer
// format than FormatVersion, skips (and counts in TornLines) a torn last line
// of a JSONL file, and reports any other malformed line as file:line. A
// missing JSONL file reads as empty.
func Read(dir string) (*Run, error) {
	meta, err := readMeta(dir)
	if err != nil {
		return nil, err
	}
	run := &Run{Meta: meta}

	obs, torn, err := readJSONL[Observation](filepath.Join(dir, ObservationsFile))
	if err != nil {
		return nil, err
	}
	run.Observations, run.TornLines = obs, run.TornLines+torn

	evs, torn, err := readJSONL[Event](filepath.Join(dir, EventsFile))
	if err != nil {
		return nil, err
	}
	run.Events, run.TornLines = evs, run.TornLines+torn

	samples, torn, err := readJSONL[InstrumentSample](filepath.Join(dir, InstrumentFile))
	if err != nil {
		return nil, err
	}
	run.Instrument, run.TornLines = samples, run.TornLines+torn
	if _, err := os.Stat(filepath.Join(dir, ScenarioFile)); err == nil {
		run.ScenarioCopy = ScenarioFile
	}
	return run, nil
}

func readMeta(dir string) (Meta, error) {
	path := filepath.Join(dir, MetaFile)
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Meta{}, fmt.Errorf("rundir: %s is not a run directory: %s is missing", dir, MetaFile)
		}
		return Meta{}, fmt.Errorf("rundir: %w", err)
	}
	// Check the version before decoding the rest: a newer format may have
	// changed the fields this version would decode.
	var v struct {
		FormatVersion *int `json:"formatVersion"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return Meta{}, fmt.Errorf("rundir: %s: %w", path, err)
	}
	switch {
	case v.FormatVersion == nil:
		return Meta{}, fmt.Errorf("rundir: %s: formatVersion is missing; not a meshsim run", path)
	case *v.FormatVersion > FormatVersion:
		return Meta{}, fmt.Errorf("rundir: %s: run format version %d is newer than this meshsim reads (up to %d); read it with a newer meshsim",
			path, *v.FormatVersion, FormatVersion)
	case *v.FormatVersion < 1:
		return Meta{}, fmt.Errorf("rundir: %s: invalid formatVersion %d", path, *v.FormatVersion)
	}
	var m Meta
	if err := json.Unmarshal(data, &m); err != nil {
		return Meta{}, fmt.Errorf("rundir: %s: %w", path, err)
	}
	return m, nil
}

// readJSONL decodes one T per line of path. A last line without its
// newline that does not decode is torn: it is skipped and counted. Blank
// lines are skipped.
func readJSONL[T any](path string) (records []T, torn int, err error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, 0, nil
		}
		return nil, 0, fmt.Errorf("rundir: %w", err)
	}
	defer f.Close()

	r := bufio.NewReaderSize(f, 64<<10)
	for n := 1; ; n++ {
		line, rerr := r.ReadBytes('\n')
		if rerr != nil && rerr != io.EOF {
			return nil, 0, fmt.Errorf("rundir: reading %s: %w", path, rerr)
		}
		complete := rerr == nil // ends with its newline
		if len(bytes.TrimSpace(line)) > 0 {
			var rec T
			if derr := json.Unmarshal(line, &rec); derr != nil {
				if !complete {
					torn++
					break
				}
				return nil, 0, fmt.Errorf("rundir: %s:%d: malformed record: %w", path, n, derr)
			}
			records = append(records, rec)
		}
		if !complete {
			break
		}
	}
	return records, torn, nil
}
