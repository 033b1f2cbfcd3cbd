package main

import (
	"encoding/json"
	"encoding/xml"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/reports"
)

// reportFiles reads the reports of a run directory: report.json decoded,
// and the text of report.md, report.html and report.junit.xml.
type reportFiles struct {
	json              reports.Report
	md, html, junit   string
	junitErrors       int
	junitFailures     int
	junitErrorMessage string
}

func readReports(t *testing.T, dir string) reportFiles {
	t.Helper()
	var f reportFiles
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	if err := json.Unmarshal([]byte(read(reports.JSONFile)), &f.json); err != nil {
		t.Fatal(err)
	}
	f.md, f.html, f.junit = read(reports.MarkdownFile), read(reports.HTMLFile), read(reports.JUnitFile)
	var doc struct {
		Errors   int `xml:"errors,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Cases []struct {
				Name  string `xml:"name,attr"`
				Error *struct {
					Message string `xml:"message,attr"`
				} `xml:"error"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(f.junit), &doc); err != nil {
		t.Fatal(err)
	}
	f.junitErrors, f.junitFailures = doc.Errors, doc.Failures
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			if c.Error != nil {
				f.junitErrorMessage = c.Error.Message
			}
		}
	}
	return f
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// A run whose setup fails sends no request: it is an ERROR in the summary,
// every report and the exit code of "meshsim run" and "meshsim report".
func TestRunSetupFailureIsError(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	out, errOut, code := execute(t, "run", "bookingapp-canary", "--endpoint", "http://"+closedAddr(t), "--out", dir, "--quiet")
	if code != exitErrored {
		t.Fatalf("meshsim run exit code %d, want %d\nstdout: %s\nstderr: %s", code, exitErrored, out, errOut)
	}
	if !strings.Contains(out, "ERROR: the run sent no request: setup: ") || strings.Contains(out, "PASS") {
		t.Errorf("summary does not say ERROR:\n%s", out)
	}
	if !strings.Contains(errOut, "the run did not complete") {
		t.Errorf("stderr lacks the run's error: %s", errOut)
	}
	checkErrorReports(t, dir)

	out, _, code = execute(t, "report", dir)
	if code != exitErrored || !strings.Contains(out, "ERROR: ") {
		t.Errorf("meshsim report exit code %d, want %d:\n%s", code, exitErrored, out)
	}
	checkErrorReports(t, dir)

	// A second run into the same directory is refused and leaves the first
	// run's files alone.
	before, err := os.ReadFile(filepath.Join(dir, reports.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	_, errOut, code = execute(t, "run", "bookingapp-canary", "--endpoint", "http://"+closedAddr(t), "--out", dir, "--quiet")
	if code != exitBadInput || !strings.Contains(errOut, "already holds a run") {
		t.Errorf("second run into %s: exit code %d, stderr %s", dir, code, errOut)
	}
	if after, err := os.ReadFile(filepath.Join(dir, reports.JSONFile)); err != nil || string(after) != string(before) {
		t.Errorf("the second run rewrote the first run's report.json (%v)", err)
	}
}

func checkErrorReports(t *testing.T, dir string) {
	t.Helper()
	f := readReports(t, dir)
	if f.json.Verdict != reports.VerdictError || !strings.Contains(f.json.VerdictReason, "no request") || !f.json.Run.Partial {
		t.Errorf("report.json verdict %q (%s), partial %v", f.json.Verdict, f.json.VerdictReason, f.json.Run.Partial)
	}
	for _, a := range f.json.Assertions {
		if a.Verdict != reports.VerdictInconclusive {
			t.Errorf("assertion %s judged %q on a run without requests: %s", a.Kind, a.Verdict, a.Message)
		}
	}
	if !strings.Contains(f.md, "**ERROR: the run sent no request") || !strings.Contains(f.md, "| Verdict | ERROR |") {
		t.Errorf("report.md does not say ERROR:\n%s", f.md)
	}
	if !strings.Contains(f.html, `<p class="verdict error"><svg class="icon"`) || !strings.Contains(f.html, `</svg> ERROR: the run sent no request`) {
		t.Errorf("report.html does not say ERROR")
	}
	if f.junitErrors != 1 || f.junitFailures != 0 || !strings.HasPrefix(f.junitErrorMessage, "ERROR: ") {
		t.Errorf("report.junit.xml errors=%d failures=%d error %q, want one error", f.junitErrors, f.junitFailures, f.junitErrorMessage)
	}
}

// writeRun writes a run directory with the real writer: two steps of one
// second at 100 requests per second, each request sent lag after its
// schedule and failed when fail says so; partial cuts it off before the
// second step ends.
func writeRun(t *testing.T, requests bool, lag time.Duration, fail func(i int) bool, partial bool) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	start := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	meta := rundir.Meta{
		RunID: "r", Scenario: "s", ScenarioSource: "s.yaml", Runtime: "inproc", Started: start.Add(-time.Second),
		MeasuredService: "movie",
		Steps: []rundir.Step{
			{Index: 0, Name: "baseline", Weights: map[string]float64{"v1": 100}, Bake: time.Second},
			{Index: 1, Name: "also", Weights: map[string]float64{"v1": 100}, Bake: time.Second},
		},
		Assertions: []rundir.Assertion{{Kind: "no-failed-requests", Source: "s.yaml:9:3"}, {Kind: "weight-within", Value: 1}},
		Load:       rundir.Load{Rate: 100, Target: "t", Timeout: time.Second, Duration: 2 * time.Second},
	}
	w, err := rundir.Create(dir, meta)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		from := start.Add(time.Duration(i) * time.Second)
		w.Event(rundir.Event{Time: from, Source: "engine", Type: "step.start", Detail: map[string]string{"step": []string{"0", "1"}[i]}})
		if partial && i == 1 {
			break
		}
		w.Event(rundir.Event{Time: from.Add(time.Second), Source: "engine", Type: "step.end", Detail: map[string]string{"step": []string{"0", "1"}[i]}})
	}
	n := 0
	for i := 0; requests && i < 2; i++ {
		for j := range 100 {
			if partial && i == 1 && j == 50 {
				break
			}
			at := start.Add(time.Duration(i)*time.Second + time.Duration(j)*10*time.Millisecond)
			o := rundir.Observation{Kind: "http", Seq: uint64(n + 1), Scheduled: at, Sent: at.Add(lag), Latency: lag + time.Millisecond,
				ServiceTime: time.Millisecond, Step: i, Status: 200, Version: "v1"}
			if fail != nil && fail(n) {
				o.Status, o.Version, o.Error, o.ErrorKind = 503, "", "503 Service Unavailable", "proxy-5xx"
			}
			w.Observe(o)
			n++
		}
	}
	if !partial {
		if err := w.UpdateMeta(func(m *rundir.Meta) { m.Ended = start.Add(2 * time.Second) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// "meshsim report" exits with the run's verdict, the same verdict every
// output shows, also for a run cut off.
func TestReportVerdictExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		dir      string
		code     int
		verdict  string
		summary  string
		partial  bool
		junitBad string // the JUnit count that must be 1: "errors", "failures" or ""
	}{
		{"pass", writeRun(t, true, 0, nil, false), exitOK, reports.VerdictPass, "PASS: all 2 assertions hold", false, ""},
		{"fail", writeRun(t, true, 0, func(i int) bool { return i == 7 }, false), exitFailed, reports.VerdictFail,
			"FAIL: 1 of 2 assertions failed", false, "failures"},
		{"no request", writeRun(t, false, 0, nil, false), exitErrored, reports.VerdictError,
			"ERROR: the run sent no request", false, "errors"},
		{"interrupted, holds so far", writeRun(t, true, 0, nil, true), exitInconclusive, reports.VerdictInconclusive,
			"INCONCLUSIVE: partial run: run.json has no end time", true, ""},
		{"interrupted, failed", writeRun(t, true, 0, func(i int) bool { return i == 120 }, true), exitFailed, reports.VerdictFail,
			"FAIL: 1 of 2 assertions failed (partial run)", true, "failures"},
		{"load generator behind", writeRun(t, true, 2*time.Second, func(i int) bool { return i%2 == 0 }, false), exitInconclusive,
			reports.VerdictInconclusive, "INCONCLUSIVE: the instrument saturated in 2 of 2 steps (worst step 0 \"baseline\": the load generator fell 2s behind schedule", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := execute(t, "report", tc.dir)
			if code != tc.code {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			if !strings.Contains(out, tc.summary) {
				t.Errorf("summary lacks %q:\n%s", tc.summary, out)
			}
			f := readReports(t, tc.dir)
			if f.json.Verdict != tc.verdict || f.json.Run.Partial != tc.partial {
				t.Errorf("report.json verdict %q partial %v, want %q %v", f.json.Verdict, f.json.Run.Partial, tc.verdict, tc.partial)
			}
			word := strings.ToUpper(tc.verdict)
			if !strings.Contains(f.md, "| Verdict | "+word+" |") || !strings.Contains(f.md, "**"+word+":") {
				t.Errorf("report.md does not say %s", word)
			}
			if !strings.Contains(f.html, `<p class="verdict `+tc.verdict+`"><svg class="icon"`) || !strings.Contains(f.html, `</svg> `+word+":") {
				t.Errorf("report.html does not say %s", word)
			}
			if tc.partial && (!strings.Contains(f.md, "(partial run)") && !strings.Contains(f.md, "partial run:")) {
				t.Errorf("report.md of a partial run does not say partial")
			}
			wantErrors, wantFailures := 0, 0
			switch tc.junitBad {
			case "errors":
				wantErrors = 1
			case "failures":
				wantFailures = 1
			}
			if f.junitErrors != wantErrors || (f.junitFailures > 0) != (wantFailures > 0) {
				t.Errorf("report.junit.xml errors=%d failures=%d, want errors=%d and failures? %v", f.junitErrors, f.junitFailures, wantErrors, wantFailures > 0)
			}
		})
	}
}
