package reports_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/reports"
	"github.com/meshsim/meshsim/sim/contract"
)

// elements returns the elements under n named tag that have every class
// of classes, in document order.
func elements(n *html.Node, tag string, classes ...string) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == tag && hasClasses(n, classes) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func hasClasses(n *html.Node, classes []string) bool {
	var have []string
	for _, a := range n.Attr {
		if a.Key == "class" {
			have = strings.Fields(a.Val)
		}
	}
	for _, c := range classes {
		found := false
		for _, h := range have {
			found = found || h == c
		}
		if !found {
			return false
		}
	}
	return true
}

// text is the text content of n.
func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// cells are the texts of the td elements of row.
func cells(row *html.Node) []string {
	var out []string
	for _, td := range elements(row, "td") {
		out = append(out, text(td))
	}
	return out
}

// charts are the charts of doc: the <svg role="img"> elements.
func charts(doc *html.Node) []*html.Node {
	var out []*html.Node
	for _, svg := range elements(doc, "svg") {
		for _, a := range svg.Attr {
			if a.Key == "role" && a.Val == "img" {
				out = append(out, svg)
			}
		}
	}
	return out
}

// checkSVGs checks that every inline <svg> element of page is well-formed
// XML, and returns how many there are.
func checkSVGs(t *testing.T, page string) int {
	t.Helper()
	n := 0
	for rest := page; ; n++ {
		start := strings.Index(rest, "<svg")
		if start < 0 {
			return n
		}
		end := strings.Index(rest[start:], "</svg>")
		if end < 0 {
			t.Fatalf("<svg> element %d is not closed", n)
		}
		svg := rest[start : start+end+len("</svg>")]
		dec := xml.NewDecoder(strings.NewReader(svg))
		for {
			_, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("<svg> element %d is not well-formed XML: %v", n, err)
			}
		}
		rest = rest[start+end:]
	}
}

// htmlDeploymentRun is a two-step rolling deployment that rolled back,
// with a fault injected in the second step.
func htmlDeploymentRun() *rundir.Run {
	steps := []rundir.Step{
		step(0, "baseline", 0, 10*time.Second, map[string]float64{"v1": 100}),
		step(1, "rolling", 10*time.Second, 20*time.Second, nil),
	}
	obs := concat(served(0, at(0), 10*time.Millisecond, map[string]int{"v1": 100}),
		served(1, at(10*time.Second), 10*time.Millisecond, map[string]int{"v1": 60, "v2": 40}))
	evs := []rundir.Event{{Time: at(12 * time.Second), Source: contract.SourceEngine, Type: contract.EventFaultInjected,
		Detail: map[string]string{"action": "kill-task", "service": "movie", "version": "v2", "task": "t9"}}}
	run := newRun(steps, obs, evs, rundir.Assertion{Kind: "deployments-as-expected"})
	run.Meta.Load.Rate = 10 // what the steps sent
	run.Meta.Deployments = []rundir.Deployment{{
		Name: "to-v2", Service: "movie", Strategy: "ROLLING", From: "v1", To: "v2", Expect: "SUCCESSFUL",
		Outcome: "ROLLBACK_SUCCESSFUL", RollbackReason: "circuit breaker", Started: at(10 * time.Second), Ended: at(20 * time.Second),
		Stages: []rundir.Stage{{Stage: "SCALE_UP", At: at(11 * time.Second)}},
	}}
	return run
}

func TestWriteHTML(t *testing.T) {
	const evil = "<script>alert(1)</script>"
	for _, tc := range []struct {
		name string
		run  func() *rundir.Run
		// rows are the first cells of the step table.
		rows []string
		// cells are texts some cell of the step table holds.
		cells []string
		// passed and failed are the titles of the assertions marked PASS
		// and FAIL.
		passed, failed []string
		svgs           int
		// texts are texts the page shows; absent texts it must not hold.
		texts, absent []string
	}{
		{
			name:   "canary",
			run:    sampleRun,
			rows:   []string{"0 baseline", "1 canary|10", "2 promote"},
			cells:  []string{"v1 90 → 89.57, v2 10 → 10.43", "25.00 (3 excl.)", "no-healthy-upstream 1, reset 1", "not reached"},
			passed: []string{"weight-within 2 pp"}, failed: []string{"no-failed-requests"},
			svgs: 4,
			texts: []string{"meshsim report: canary", "FAIL: 1 of 2 assertions failed", "builtin:canary",
				"offered 100 req/s", "Share per version", "v2 observed", "v1 configured", "v1 p99", "failed", "reset", "no-healthy-upstream"},
			absent: []string{"Partial run:", "Deployments", "Streams"},
		},
		{
			name: "escaped names",
			run: func() *rundir.Run {
				run := sampleRun()
				run.Meta.Scenario = `a&b "<i>quoted</i>"`
				run.Meta.Steps[1].Name = evil
				run.Meta.Steps[1].Weights = map[string]float64{"v1": 90, "<b>v2</b>": 10}
				for i, o := range run.Observations {
					if o.Version == "v2" {
						run.Observations[i].Version = "<b>v2</b>"
					}
				}
				return run
			},
			rows:   []string{"0 baseline", "1 " + evil, "2 promote"},
			cells:  []string{"<b>v2</b> 10 → 10.43, v1 90 → 89.57"},
			passed: []string{"weight-within 2 pp"}, failed: []string{"no-failed-requests"},
			svgs:  4,
			texts: []string{`meshsim report: a&b "<i>quoted</i>"`, "<b>v2</b> observed", `step 1 "` + evil + `"`},
		},
		{
			name: "deployment and fault",
			run:  htmlDeploymentRun,
			rows: []string{"0 baseline", "1 rolling"}, cells: []string{"v1 → 60.00, v2 → 40.00"},
			failed: []string{"deployments-as-expected"},
			svgs:   4,
			texts: []string{"Deployments", "to-v2: ROLLING v1 → v2, ended ROLLBACK_SUCCESSFUL (expected SUCCESSFUL)",
				"rollback: circuit breaker", "stages: SCALE_UP +1s", "Faults", "fault kill-task movie v2 task t9 in step 1"},
		},
		{
			name: "partial run with streams",
			run: func() *rundir.Run {
				run := rolloutStreams(rundir.Assertion{Kind: "no-message-lost"})
				run.Meta.Partial, run.Meta.Reason = true, "interrupted"
				return run
			},
			rows: []string{"0 baseline", "1 blue-green"}, failed: []string{"no-message-lost"},
			svgs: 5,
			texts: []string{"Partial run: interrupted. The assertions judge what was recorded.", "(partial run)",
				"Streams", "5 streams", "Never resumed:", "s4"},
		},
		{
			name: "nothing reached",
			run: func() *rundir.Run {
				run := newRun([]rundir.Step{{Index: 0, Name: "baseline", Weights: map[string]float64{"v1": 100}}}, nil, nil)
				run.Meta.Partial, run.Meta.Reason = true, "setup failed"
				return run
			},
			rows:  []string{"0 baseline"},
			svgs:  1, // the (empty) request bars
			texts: []string{"The scenario has no assertions.", "No chart: no version answered a request."},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := reports.WriteHTML(&b, reports.Analyze(tc.run())); err != nil {
				t.Fatal(err)
			}
			page := b.String()
			if !strings.HasPrefix(page, "<!DOCTYPE html>\n") {
				t.Errorf("page does not start with a doctype: %.40q", page)
			}
			doc, err := html.Parse(strings.NewReader(page))
			if err != nil {
				t.Fatal(err)
			}
			icons := len(elements(doc, "svg", "icon"))
			if n := checkSVGs(t, page); n != tc.svgs+icons {
				t.Errorf("%d <svg> elements in the source, want %d charts and %d icons", n, tc.svgs, icons)
			}
			if n := len(charts(doc)); n != tc.svgs {
				t.Errorf("%d charts parsed, want %d", n, tc.svgs)
			}
			// Icons are inline SVG: no emoji, which shows as an empty box
			// where no emoji font is installed (headless Chromium).
			for _, glyph := range []string{"✅", "❌", "❔", "⚠"} {
				if strings.Contains(page, glyph) {
					t.Errorf("the page holds the glyph %s", glyph)
				}
			}

			// Self-contained and inert: no script, nothing loaded.
			if n := len(elements(doc, "script")); n != 0 {
				t.Errorf("%d script elements", n)
			}
			for _, tag := range []string{"link", "img", "iframe", "object", "b", "i"} {
				if n := len(elements(doc, tag)); n != 0 {
					t.Errorf("%d %s elements", n, tag)
				}
			}

			checkStepTable(t, doc, tc.rows, tc.cells)
			checkAssertionMarks(t, doc, tc.passed, tc.failed)

			body := text(doc)
			for _, want := range tc.texts {
				if !strings.Contains(body, want) {
					t.Errorf("page text lacks %q:\n%s", want, body)
				}
			}
			for _, no := range tc.absent {
				if strings.Contains(body, no) {
					t.Errorf("page text has %q", no)
				}
			}
		})
	}
}

// checkStepTable checks that the step table of doc has the rows wantRows
// (their first cells), 12 cells each, and holds the cells wantCells.
func checkStepTable(t *testing.T, doc *html.Node, wantRows, wantCells []string) {
	t.Helper()
	var rows [][]string
	for _, tbl := range elements(doc, "table", "steps") {
		for _, tr := range elements(tbl, "tr") {
			if c := cells(tr); len(c) > 0 {
				rows = append(rows, c)
			}
		}
	}
	if len(rows) != len(wantRows) {
		t.Fatalf("step table has %d rows, want %d: %q", len(rows), len(wantRows), rows)
	}
	all := map[string]bool{}
	for i, row := range rows {
		if len(row) != 12 || row[0] != wantRows[i] {
			t.Errorf("row %d = %q, want 12 cells starting with %q", i, row, wantRows[i])
		}
		for _, c := range row {
			all[c] = true
		}
	}
	for _, want := range wantCells {
		if !all[want] {
			t.Errorf("no step table cell %q in %q", want, rows)
		}
	}
}

// checkAssertionMarks checks that the assertion list of doc marks the
// titles passed PASS and the titles failed FAIL, in that order.
func checkAssertionMarks(t *testing.T, doc *html.Node, passed, failed []string) {
	t.Helper()
	for _, want := range []struct {
		class, mark string
		titles      []string
	}{{"pass", "PASS", passed}, {"fail", "FAIL", failed}} {
		var got []string
		for _, ul := range elements(doc, "ul", "assertions") {
			for _, li := range elements(ul, "li", want.class) {
				if !strings.HasPrefix(text(li), " "+want.mark+" ") || len(elements(li, "svg", "icon")) != 1 {
					t.Errorf("%s assertion without the icon and mark %q: %q", want.class, want.mark, text(li))
				}
				got = append(got, text(elements(li, "strong")[0]))
			}
		}
		if strings.Join(got, ",") != strings.Join(want.titles, ",") {
			t.Errorf("%s assertions %q, want %q", want.class, got, want.titles)
		}
	}
}

func TestWriteFilesHTMLAndJUnit(t *testing.T) {
	dir, run := writeRunDir(t, sampleRun())
	if err := reports.WriteFiles(dir, reports.Analyze(run)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file, prefix, contains string
	}{
		{reports.HTMLFile, "<!DOCTYPE html>", "</html>\n"},
		{reports.JUnitFile, xml.Header + "<testsuites", "</testsuites>\n"},
	} {
		data, err := os.ReadFile(filepath.Join(dir, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(data), tc.prefix) || !strings.HasSuffix(string(data), tc.contains) {
			t.Errorf("%s: %.80q … %q", tc.file, data, data[max(0, len(data)-20):])
		}
	}
}
