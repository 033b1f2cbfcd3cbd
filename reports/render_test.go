package reports_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/reports"
	"github.com/meshsim/meshsim/sim/contract"
)

// sampleRun is a three-step canary: a clean baseline, a canary step (whose
// name needs escaping in Markdown) with two failed requests, and a step the
// run never reached. weight-within holds, no-failed-requests fails.
func sampleRun() *rundir.Run {
	steps := []rundir.Step{
		step(0, "baseline", 0, 10*time.Second, map[string]float64{"v1": 100}),
		step(1, "canary|10", 10*time.Second, 20*time.Second, map[string]float64{"v1": 90, "v2": 10}),
		{Index: 2, Name: "promote", Weights: map[string]float64{"v2": 100}},
	}
	obs := concat(
		served(0, at(0), 10*time.Millisecond, map[string]int{"v1": 1000}),
		served(1, at(10*time.Second), 10*time.Millisecond, map[string]int{"v1": 895, "v2": 105}),
		[]rundir.Observation{failObs(1, at(12*time.Second), "reset"), failObs(1, at(13*time.Second), "no-healthy-upstream")},
	)
	evs := []rundir.Event{
		xdsEvent(contract.EventXDSPush, at(10*time.Second+time.Millisecond), "node-a", "7"),
		xdsEvent(contract.EventXDSAck, at(10*time.Second+25*time.Millisecond), "node-a", "7"),
	}
	run := newRun(steps, obs, evs,
		rundir.Assertion{Kind: "weight-within", Value: 2, Source: "canary.yaml:30:7"},
		rundir.Assertion{Kind: "no-failed-requests", Source: "canary.yaml:31:7"},
	)
	run.Meta.Ended = at(20 * time.Second)
	return run
}

// writeRunDir writes run through rundir's Writer and reads it back, so the
// report is made from a real run directory.
func writeRunDir(t *testing.T, run *rundir.Run) (string, *rundir.Run) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	meta := run.Meta
	meta.Ended = time.Time{}
	w, err := rundir.Create(dir, meta)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range run.Observations {
		if err := w.Observe(o); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range run.Events {
		if err := w.Event(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.UpdateMeta(func(m *rundir.Meta) { m.Ended = run.Meta.Ended }); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	back, err := rundir.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, back
}

func TestWriteFiles(t *testing.T) {
	dir, run := writeRunDir(t, sampleRun())
	r := reports.Analyze(run)
	if err := reports.WriteFiles(dir, r); err != nil {
		t.Fatal(err)
	}

	t.Run("report.json", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join(dir, reports.JSONFile))
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(data) {
			t.Fatalf("report.json is not valid JSON:\n%s", data)
		}
		var top map[string]any
		if err := json.Unmarshal(data, &top); err != nil {
			t.Fatal(err)
		}
		if top["reportVersion"] != float64(reports.ReportVersion) || top["verdict"] != "fail" {
			t.Errorf("reportVersion %v verdict %v", top["reportVersion"], top["verdict"])
		}
		for _, key := range []string{"run", "steps", "assertions"} {
			if _, ok := top[key]; !ok {
				t.Errorf("report.json has no %q", key)
			}
		}
		var back reports.Report
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		again, err := json.MarshalIndent(&back, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(append(again, '\n'), data) {
			t.Errorf("report.json does not survive a decode and encode:\n%s\nvs\n%s", data, again)
		}
		if len(back.Steps) != 3 || back.Steps[1].ShareRequests != 997 || back.Steps[1].Convergence.After != 25*time.Millisecond ||
			back.Steps[1].ErrorsByKind["reset"] != 1 || back.Run.Totals.Failed != 2 || back.Verdict != reports.VerdictFail {
			t.Errorf("decoded report lost data: %+v", back)
		}
	})

	t.Run("report.md", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join(dir, reports.MarkdownFile))
		if err != nil {
			t.Fatal(err)
		}
		md := string(data)
		for _, want := range []string{
			"# meshsim report: canary\n",
			"**FAIL: 1 of 2 assertions failed**",
			"| Run id | `run-1` |",
			"| Measured service | movie |",
			"\n| Step | Weights configured → observed (%) | Max error (pp) | Requests | Failed | Errors by kind | p50 ms | p90 ms | p99 ms | Convergence ms | Tasks | Verdict |\n",
			"\n| 0 baseline | v1 100 → 100.00 | 0.00 | 1000 | 0 | - | 1.00 | 1.00 | 1.00 | 0.00 | - | PASS |\n",
			"\n| 1 canary\\|10 | v1 90 → 89.57, v2 10 → 10.43 | 0.43 | 1002 | 2 | no-healthy-upstream 1, reset 1 |",
			"| 25.00 (3 excl.) | - | FAIL: failed no-failed-requests |\n",
			"\n| 2 promote | v2 100 → - | - | - | - | - | - | - | - | not reached | - | not judged: not reached |\n",
			"| Verdict | FAIL |",
			"\n## Instrument\n\nload generator lag p99 0s (limit 500ms), sent 100.1% of the offered rate (limit 90%).\n",
			"\n| 1 canary\\|10 | 0.00 | 0.00 | 0.00 | 100.2 | 100.2% | 0% of the limit | - | - | - | - |\n",
			"### Split accuracy",
			"- ✅ PASS **weight-within 2 pp** (`canary.yaml:30:7`): every version within 2 pp",
			"- ❌ FAIL **no-failed-requests** (`canary.yaml:31:7`): 2 of 2002 requests failed; step 1 \"canary\\|10\"",
			"## How to read this",
			"binomial",
		} {
			if !strings.Contains(md, want) {
				t.Errorf("report.md lacks %q:\n%s", want, md)
			}
		}
		// Every row of every table has as many cells as its header.
		cells := -1
		for _, line := range strings.Split(md, "\n") {
			if !strings.HasPrefix(line, "|") {
				cells = -1
				continue
			}
			n := strings.Count(line, "|") - strings.Count(line, `\|`)
			if cells < 0 {
				cells = n
			} else if n != cells {
				t.Errorf("table row has %d separators, header has %d: %q", n, cells, line)
			}
		}
	})

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

func TestWriteFilesError(t *testing.T) {
	err := reports.WriteFiles(filepath.Join(t.TempDir(), "missing"), reports.Analyze(sampleRun()))
	if err == nil || !strings.Contains(err.Error(), reports.JSONFile) {
		t.Errorf("WriteFiles into a missing directory: %v", err)
	}
}

func TestWriteSummary(t *testing.T) {
	run := sampleRun()
	run.Meta.Partial = true
	run.Meta.Reason = "interrupted"
	var b strings.Builder
	reports.WriteSummary(&b, reports.Analyze(run))
	out := b.String()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")

	for _, want := range []string{
		"run run-1 · scenario canary · runtime inproc · wall time 21s",
		"requests 2002, failed 2 (0.0999%)",
		"partial run: interrupted",
		"PASS  weight-within 2 pp (canary.yaml:30:7): every version within 2 pp",
		`FAIL  no-failed-requests (canary.yaml:31:7): 2 of 2002 requests failed; step 1 "canary|10"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if last := lines[len(lines)-1]; last != "FAIL: 1 of 2 assertions failed (partial run)" {
		t.Errorf("last line = %q", last)
	}

	// The table: a header, then one aligned row per step.
	header := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "STEP ") {
			header = i
		}
	}
	if header < 0 || header+3 >= len(lines) {
		t.Fatalf("no step table:\n%s", out)
	}
	col := func(line, field string) int {
		i := strings.Index(line, field)
		if i < 0 {
			return -1
		}
		return len([]rune(line[:i]))
	}
	reqCol := col(lines[header], "REQUESTS")
	convCol := col(lines[header], "CONVERGENCE MS")
	rows := []struct{ prefix, requests, convergence string }{
		{"0 baseline ", "1000 ", "0.00"},
		{"1 canary|10 ", "1002 ", "25.00 (3 excl.)"},
		{"2 promote ", "- ", "not reached"},
	}
	for i, want := range rows {
		line := lines[header+1+i]
		if !strings.HasPrefix(line, want.prefix) {
			t.Errorf("row %d = %q, want it to start with %q", i, line, want.prefix)
			continue
		}
		runes := []rune(line)
		if reqCol < 0 || reqCol >= len(runes) || !strings.HasPrefix(string(runes[reqCol:]), want.requests) {
			t.Errorf("row %d: requests not aligned under REQUESTS (col %d): %q", i, reqCol, line)
		}
		if convCol < 0 || convCol >= len(runes) || !strings.HasPrefix(string(runes[convCol:]), want.convergence) {
			t.Errorf("row %d: convergence not aligned under CONVERGENCE MS (col %d): %q", i, convCol, line)
		}
	}
}
