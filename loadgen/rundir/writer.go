package rundir

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// File names inside a run directory.
const (
	MetaFile = "run.json"
	// ScenarioFile is the copy of the scenario the run rehearsed, as
	// written (WriteScenario).
	ScenarioFile     = "scenario.yaml"
	ObservationsFile = "observations.jsonl"
	EventsFile       = "events.jsonl"
	// TasksDir holds, per task that ran as a local process (the user's
	// command), TASKID/CONTAINER.stdout, .stderr and .exit.
	TasksDir = "tasks"
)

// flushInterval bounds how long a record waits in memory before it reaches
// the file, so that a live reader (the TUI) and a crash lose at most this
// much.
const flushInterval = 200 * time.Millisecond

// ErrClosed is returned by a Writer's methods after Close.
var ErrClosed = errors.New("rundir: writer is closed")

// ErrRunExists is returned (wrapped) by Create for a directory that
// already holds a run, or whose files another run created first.
var ErrRunExists = errors.New("the directory already holds a run")

// Writer appends to a run directory. Its methods are safe for concurrent
// use. Records are buffered and reach the files at least every 200 ms and on
// Close; each line is written whole, so a crash leaves at most one torn line
// at the end of a file.
type Writer struct {
	dir    string
	obs    *jsonlFile
	events *jsonlFile
	instr  *jsonlFile

	metaMu sync.Mutex
	meta   Meta
	closed bool

	stop        chan struct{}
	flusherDone chan struct{}
}

// Create makes dir (and its parents), writes meta as run.json and opens
// observations.jsonl, events.jsonl and instrument.jsonl for appending. It refuses a directory
// that already holds a run. meta.FormatVersion is set to FormatVersion.
func Create(dir string, meta Meta) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("rundir: creating %s: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, MetaFile)); err == nil {
		return nil, fmt.Errorf("rundir: %s: %w (%s exists)", dir, ErrRunExists, MetaFile)
	}
	obs, err := createJSONL(filepath.Join(dir, ObservationsFile))
	if err != nil {
		return nil, err
	}
	events, err := createJSONL(filepath.Join(dir, EventsFile))
	if err != nil {
		obs.f.Close()
		os.Remove(obs.f.Name())
		return nil, err
	}
	instr, err := createJSONL(filepath.Join(dir, InstrumentFile))
	if err != nil {
		obs.f.Close()
		events.f.Close()
		os.Remove(obs.f.Name())
		os.Remove(events.f.Name())
		return nil, err
	}
	meta.FormatVersion = FormatVersion
	if err := writeMeta(dir, meta); err != nil {
		for _, j := range []*jsonlFile{obs, events, instr} {
			j.f.Close()
			os.Remove(j.f.Name())
		}
		return nil, err
	}
	w := &Writer{
		dir:         dir,
		obs:         obs,
		events:      events,
		instr:       instr,
		meta:        meta,
		stop:        make(chan struct{}),
		flusherDone: make(chan struct{}),
	}
	go w.flushLoop()
	return w, nil
}

// Observe appends o to observations.jsonl.
func (w *Writer) Observe(o Observation) error { return w.obs.append(o) }

// Event appends e to events.jsonl.
func (w *Writer) Event(e Event) error { return w.events.append(e) }

// Instrument appends s to instrument.jsonl.
func (w *Writer) Instrument(s InstrumentSample) error { return w.instr.append(s) }

// UpdateMeta applies update to the run's Meta and rewrites run.json
// atomically (a temporary file renamed over the old one), so a reader sees
// either the old or the new run.json, never a mix. FormatVersion stays
// FormatVersion whatever update does.
func (w *Writer) UpdateMeta(update func(*Meta)) error {
	w.metaMu.Lock()
	defer w.metaMu.Unlock()
	if w.closed {
		return ErrClosed
	}
	m := w.meta
	update(&m)
	m.FormatVersion = FormatVersion
	if err := writeMeta(w.dir, m); err != nil {
		return err
	}
	w.meta = m
	return nil
}

// Close flushes what is buffered, syncs both files to disk and closes them.
// It returns the first error met while writing, if any. Calls after the
// first return ErrClosed.
func (w *Writer) Close() error {
	w.metaMu.Lock()
	if w.closed {
		w.metaMu.Unlock()
		return ErrClosed
	}
	w.closed = true
	w.metaMu.Unlock()

	close(w.stop)
	<-w.flusherDone
	return errors.Join(w.obs.close(), w.events.close(), w.instr.close())
}

func (w *Writer) flushLoop() {
	defer close(w.flusherDone)
	t := time.NewTicker(flushInterval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			// Errors are sticky in each file and returned by the next
			// append or by Close.
			w.obs.flush()
			w.events.flush()
			w.instr.flush()
		}
	}
}

// jsonlFile is one append-only JSON-lines file with a buffer.
type jsonlFile struct {
	mu     sync.Mutex
	f      *os.File
	buf    *bufio.Writer
	err    error // first write error; sticky
	closed bool
}

func createJSONL(path string) (*jsonlFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("rundir: %s: %w (%s exists; a run directory holds one run)", filepath.Dir(path), ErrRunExists, filepath.Base(path))
		}
		return nil, fmt.Errorf("rundir: %w", err)
	}
	return &jsonlFile{f: f, buf: bufio.NewWriterSize(f, 64<<10)}, nil
}

func (j *jsonlFile) append(v any) error {
	line, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("rundir: encoding a record for %s: %w", filepath.Base(j.f.Name()), err)
	}
	line = append(line, '\n')

	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ErrClosed
	}
	if j.err != nil {
		return j.err
	}
	// Flush before a line that does not fit, rather than letting bufio split
	// it across two writes: the file then always ends on a whole line unless
	// the process dies inside a single write.
	if j.buf.Available() < len(line) && j.buf.Buffered() > 0 {
		if err := j.buf.Flush(); err != nil {
			j.err = fmt.Errorf("rundir: writing %s: %w", j.f.Name(), err)
			return j.err
		}
	}
	if _, err := j.buf.Write(line); err != nil {
		j.err = fmt.Errorf("rundir: writing %s: %w", j.f.Name(), err)
		return j.err
	}
	return nil
}

func (j *jsonlFile) flush() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed || j.err != nil || j.buf.Buffered() == 0 {
		return
	}
	if err := j.buf.Flush(); err != nil {
		j.err = fmt.Errorf("rundir: writing %s: %w", j.f.Name(), err)
	}
}

func (j *jsonlFile) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.closed = true
	err := j.err
	if err == nil {
		if ferr := j.buf.Flush(); ferr != nil {
			err = fmt.Errorf("rundir: writing %s: %w", j.f.Name(), ferr)
		}
	}
	if serr := j.f.Sync(); serr != nil && err == nil {
		err = fmt.Errorf("rundir: syncing %s: %w", j.f.Name(), serr)
	}
	if cerr := j.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("rundir: closing %s: %w", j.f.Name(), cerr)
	}
	return err
}

// writeMeta writes run.json through a temporary file and a rename.
func writeMeta(dir string, m Meta) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("rundir: encoding %s: %w", MetaFile, err)
	}
	data = append(data, '\n')
	tmp, err := os.CreateTemp(dir, "."+MetaFile+".*")
	if err != nil {
		return fmt.Errorf("rundir: writing %s: %w", MetaFile, err)
	}
	_, werr := tmp.Write(data)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp.Name(), 0o644)
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), filepath.Join(dir, MetaFile))
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("rundir: writing %s: %w", MetaFile, werr)
	}
	return nil
}

// WriteScenario writes the scenario the run rehearses, as its file or
// the built-in library holds it, to ScenarioFile: the report links it.
func (w *Writer) WriteScenario(data []byte) error {
	if err := os.WriteFile(filepath.Join(w.dir, ScenarioFile), data, 0o644); err != nil {
		return fmt.Errorf("rundir: writing %s: %w", ScenarioFile, err)
	}
	return nil
}
