package rundir

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestInstrumentRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	w, err := Create(dir, testMeta())
	if err != nil {
		t.Fatal(err)
	}
	cpu, load, steal := 412*time.Millisecond, 14.5, 0.02
	samples := []InstrumentSample{
		{Kind: SampleHost, Time: t0, Interval: time.Second, Step: 0, CPUs: 2, ProcessCPU: &cpu, Load1: &load, StealShare: &steal},
		{Kind: SampleHost, Time: t0.Add(time.Second), Interval: time.Second, Step: 0, CPUs: 2, ProcessCPU: &cpu,
			Unreadable: []string{"load average not readable: open /proc/loadavg: no such file or directory"}},
		{Kind: SampleLoadgen, Time: t0, Interval: time.Second, Step: 1, Generator: GeneratorHTTP, Due: 1200, Sent: 1100, Lag: 500 * time.Millisecond, MaxLag: 600 * time.Millisecond},
		{Kind: SampleSidecar, Time: t0, Interval: time.Second, Step: 1, Task: "3f2a9c", Node: "movie-v2", InFlight: 3, Waiting: 2, PeakInFlight: 9, PeakWaiting: 7, Requests: 5000},
		{Kind: SampleSidecar, Time: t0, Interval: time.Second, Step: 1, Task: "77b1e0", Node: "movie-v1", Error: "sidecar admin: connection refused"},
	}
	for _, s := range samples {
		if err := w.Instrument(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	run, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range samples {
		samples[i].Time = samples[i].Time.UTC()
	}
	for i := range run.Instrument {
		run.Instrument[i].Time = run.Instrument[i].Time.UTC()
	}
	if !reflect.DeepEqual(run.Instrument, samples) {
		t.Errorf("samples:\n got %+v\nwant %+v", run.Instrument, samples)
	}
}

// A run written before instrument.jsonl existed reads with no samples;
// a torn last sample is skipped and counted.
func TestInstrumentFileMissingOrTorn(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, testMeta())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, InstrumentFile)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	run, err := Read(dir)
	if err != nil || len(run.Instrument) != 0 {
		t.Fatalf("run without instrument.jsonl: %d samples, %v", len(run.Instrument), err)
	}
	line := `{"kind":"loadgen","time":"2026-03-01T12:00:00Z","intervalNs":1000000000,"step":0,"generator":"http","due":10,"sent":10}` + "\n"
	if err := os.WriteFile(path, []byte(line+`{"kind":"host","ti`), 0o644); err != nil {
		t.Fatal(err)
	}
	run, err = Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Instrument) != 1 || run.TornLines != 1 {
		t.Errorf("%d samples, %d torn lines; want 1 and 1", len(run.Instrument), run.TornLines)
	}
}
