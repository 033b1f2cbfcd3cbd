package reports_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"golang.org/x/net/html"

	"github.com/meshsim/meshsim/reports"
)

// Text from the run (step, scenario and version names, error messages)
// is inert in report.md: rendered as GitHub renders it (CommonMark with
// tables), it makes no HTML element, no link or emphasis, no extra table
// cell or row, and reads as written.
func TestMarkdownEscapesRunText(t *testing.T) {
	const (
		script   = "<script>alert(1)</script>"
		piped    = "a|b\nc"
		markdown = "*x* _y_ [z](http://e.test) `q` ~~s~~ # h \\"
		entity   = "&lt;b&gt; & <img src=x onerror=alert(1)>"
	)
	run := sampleRun()
	run.Meta.Scenario = markdown
	run.Meta.Steps[0].Name = script
	run.Meta.Steps[1].Name = piped
	run.Meta.Steps[2].Name = entity
	run.Meta.Partial, run.Meta.Reason = true, "cut | short\n<b>now</b>"
	for i := range run.Observations {
		if run.Observations[i].Version == "v2" {
			run.Observations[i].Version = "<i>v2</i>"
		}
	}
	dir := t.TempDir()
	if err := reports.WriteFiles(dir, reports.Analyze(run)); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, reports.MarkdownFile))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := goldmark.New(goldmark.WithExtensions(extension.GFM)).Convert(md, &out); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(&out)
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"script", "img", "em", "del", "b", "i"} {
		if n := len(elements(doc, tag)); n != 0 {
			t.Errorf("report.md renders %d <%s> elements from run text", n, tag)
		}
	}
	// GitHub links a bare URL; a link whose text is not its own address
	// would come from Markdown in the run's text.
	for _, a := range elements(doc, "a") {
		href := ""
		for _, at := range a.Attr {
			if at.Key == "href" {
				href = at.Val
			}
		}
		if !strings.HasPrefix(href, text(a)) {
			t.Errorf("report.md renders a link %q to %q from run text", text(a), href)
		}
	}
	if h := elements(doc, "h1"); len(h) != 1 || text(h[0]) != "meshsim report: "+markdown {
		t.Errorf("heading %q, want the scenario's name as written", text(h[0]))
	}
	// The steps table: one row per step, as many cells as columns, the
	// names as written (a line break read as a space).
	var steps *html.Node
	for _, tbl := range elements(doc, "table") {
		if th := elements(tbl, "th"); len(th) > 0 && text(th[0]) == "Step" && strings.HasPrefix(text(th[1]), "Weights") {
			steps = tbl
		}
	}
	if steps == nil {
		t.Fatalf("no steps table in\n%s", md)
	}
	cols := len(elements(steps, "th"))
	rows := elements(steps, "tr")[1:]
	want := []string{"0 " + script, "1 a|b c", "2 " + entity}
	if len(rows) != len(want) {
		t.Fatalf("%d step rows, want %d", len(rows), len(want))
	}
	for i, row := range rows {
		cells := elements(row, "td")
		if len(cells) != cols || text(cells[0]) != want[i] {
			t.Errorf("row %d: %d cells (want %d), first %q, want %q", i, len(cells), cols, text(cells[0]), want[i])
		}
	}
	page := text(doc)
	for _, text := range []string{"<i>v2</i>", "cut | short <b>now</b>"} {
		if !strings.Contains(page, text) {
			t.Errorf("rendered report.md lacks the text %q", text)
		}
	}
}
