package rundir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/poll/polltest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testMeta() Meta {
	return Meta{
		RunID:           "run-1",
		Scenario:        "canary",
		ScenarioSource:  "builtin:canary",
		Runtime:         "inproc",
		Started:         t0,
		MeasuredService: "movie",
		Steps: []Step{
			{Index: 0, Name: "baseline", Weights: map[string]float64{"v1": 100}, Bake: 5 * time.Second},
			{Index: 1, Name: "canary", Weights: map[string]float64{"v1": 90, "v2": 10}, Bake: 5 * time.Second},
		},
		Assertions: []Assertion{{Kind: "max-error-rate", Value: 0.01, Source: "s.yaml:12:5"}},
		Load:       Load{Rate: 200, Target: "http://127.0.0.1:8080/", Timeout: time.Second, Duration: 10 * time.Second},
	}
}

func testObservation(i int) Observation {
	o := Observation{
		Kind:        "http",
		Seq:         uint64(i),
		Scheduled:   t0.Add(time.Duration(i) * 5 * time.Millisecond),
		Sent:        t0.Add(time.Duration(i)*5*time.Millisecond + 100*time.Microsecond),
		Latency:     2 * time.Millisecond,
		ServiceTime: 1900 * time.Microsecond,
		Step:        i % 2,
		Status:      200,
		Version:     "v1",
		Task:        "task-1",
		Chain:       "home/v1/task-0,movie/v1/task-1",
	}
	if i%7 == 0 {
		o.Status, o.Error, o.ErrorKind, o.Version, o.Task, o.Chain = 0, "connection refused", "refused", "", "", ""
	}
	return o
}

func TestRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "run")
	w, err := Create(dir, testMeta())
	if err != nil {
		t.Fatal(err)
	}

	// Concurrent writers, as loadgen and the event recorder are.
	const n = 500
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g + 1; i <= n; i += 4 {
				if err := w.Observe(testObservation(i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	events := []Event{
		{Seq: 1, Time: t0, Source: contract.SourceECS, Type: contract.EventTaskState, Resource: "arn:aws:ecs:us-east-1:000000000000:task/c/abc", Detail: map[string]string{"from": "PENDING", "to": "RUNNING"}},
		{Seq: 2, Time: t0.Add(time.Second), Source: contract.SourceEngine, Type: contract.EventStepStart, Detail: map[string]string{"step": "1"}},
	}
	for _, e := range events {
		if err := w.Event(e); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	ended := t0.Add(time.Minute)
	if err := w.UpdateMeta(func(m *Meta) {
		m.Ended = ended
		m.Steps[1].Start = t0.Add(5 * time.Second)
		m.FormatVersion = 99 // must not stick
	}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	run, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := testMeta()
	want.FormatVersion = FormatVersion
	want.Ended = ended
	want.Steps[1].Start = t0.Add(5 * time.Second)
	if !reflect.DeepEqual(run.Meta, want) {
		t.Errorf("meta:\n got %+v\nwant %+v", run.Meta, want)
	}
	if len(run.Observations) != n {
		t.Fatalf("read %d observations, want %d", len(run.Observations), n)
	}
	sort.Slice(run.Observations, func(i, j int) bool { return run.Observations[i].Seq < run.Observations[j].Seq })
	for i, o := range run.Observations {
		if w := testObservation(i + 1); !reflect.DeepEqual(o, w) {
			t.Fatalf("observation %d:\n got %+v\nwant %+v", i+1, o, w)
		}
	}
	if !reflect.DeepEqual(run.Events, events) {
		t.Errorf("events:\n got %+v\nwant %+v", run.Events, events)
	}
	if run.TornLines != 0 {
		t.Errorf("TornLines = %d, want 0", run.TornLines)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestWriterAfterClose(t *testing.T) {
	w, err := Create(t.TempDir(), testMeta())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Observe(testObservation(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Observe after Close: %v, want ErrClosed", err)
	}
	if err := w.Event(Event{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Event after Close: %v, want ErrClosed", err)
	}
	if err := w.UpdateMeta(func(*Meta) {}); !errors.Is(err, ErrClosed) {
		t.Errorf("UpdateMeta after Close: %v, want ErrClosed", err)
	}
	if err := w.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
}

func TestCreateRefusesExistingRun(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, testMeta())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := Create(dir, testMeta()); err == nil || !strings.Contains(err.Error(), "already") {
		t.Errorf("second Create in the same directory: %v, want an 'already holds a run' error", err)
	}
}

// TestFlushWhileOpen checks that a live reader sees observations without
// the writer being closed.
func TestFlushWhileOpen(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, testMeta())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := 1; i <= 3; i++ {
		if err := w.Observe(testObservation(i)); err != nil {
			t.Fatal(err)
		}
	}
	polltest.Eventually(t, "the 3 observations to be flushed while the writer is open", func() bool {
		run, err := Read(dir)
		if err != nil {
			t.Fatal(err)
		}
		return len(run.Observations) == 3
	})
}

func writeRun(t *testing.T, runJSON, observations string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, MetaFile), []byte(runJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ObservationsFile), []byte(observations), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestReadJSONLines(t *testing.T) {
	const meta = `{"formatVersion":1,"runId":"r"}`
	line := func(seq int) string { return fmt.Sprintf(`{"kind":"http","seq":%d,"status":200}`+"\n", seq) }
	tests := []struct {
		name     string
		obs      string
		wantSeqs []uint64
		wantTorn int
		wantErr  string
	}{
		{name: "complete", obs: line(1) + line(2), wantSeqs: []uint64{1, 2}},
		{name: "empty", obs: "", wantSeqs: nil},
		{name: "torn last line", obs: line(1) + line(2) + `{"kind":"http","se`, wantSeqs: []uint64{1, 2}, wantTorn: 1},
		{name: "last line whole but without newline", obs: line(1) + strings.TrimSuffix(line(2), "\n"), wantSeqs: []uint64{1, 2}},
		{name: "blank lines", obs: line(1) + "\n" + line(2), wantSeqs: []uint64{1, 2}},
		{name: "corrupt line in the middle", obs: line(1) + "{not json\n" + line(3), wantErr: ObservationsFile + ":2:"},
		{name: "corrupt last line with newline", obs: line(1) + line(2) + `{"seq":"x"}` + "\n", wantErr: ObservationsFile + ":3:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run, err := Read(writeRun(t, meta, tt.obs))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Read: %v, want an error naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var seqs []uint64
			for _, o := range run.Observations {
				seqs = append(seqs, o.Seq)
			}
			if !reflect.DeepEqual(seqs, tt.wantSeqs) {
				t.Errorf("seqs = %v, want %v", seqs, tt.wantSeqs)
			}
			if run.TornLines != tt.wantTorn {
				t.Errorf("TornLines = %d, want %d", run.TornLines, tt.wantTorn)
			}
		})
	}
}

func TestReadMetaVersion(t *testing.T) {
	tests := []struct {
		name    string
		meta    string
		wantErr string // empty: must read
	}{
		{name: "current", meta: `{"formatVersion":1,"runId":"r"}`},
		{name: "newer version", meta: `{"formatVersion":2,"runId":"r","newField":{"x":1}}`, wantErr: "version 2 is newer"},
		{name: "newer version with changed field types", meta: `{"formatVersion":7,"steps":"changed"}`, wantErr: "version 7 is newer"},
		{name: "missing version", meta: `{"runId":"r"}`, wantErr: "formatVersion is missing"},
		{name: "zero version", meta: `{"formatVersion":0}`, wantErr: "invalid formatVersion"},
		{name: "unknown fields are ignored", meta: `{"formatVersion":1,"runId":"r","addedLater":true}`},
		{name: "not JSON", meta: `{"formatVersion":`, wantErr: MetaFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run, err := Read(writeRun(t, tt.meta, ""))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if run.Meta.RunID != "r" {
					t.Errorf("RunID = %q, want r", run.Meta.RunID)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Read: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestReadNotARun(t *testing.T) {
	if _, err := Read(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a run directory") {
		t.Errorf("Read of an empty directory: %v, want 'not a run directory'", err)
	}
}
