package reports

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// JUnit XML, in the common form CI systems (GitHub Actions reporters,
// GitLab, Jenkins) read: testsuites > testsuite > testcase > failure.

// junitTestSuites is the root element of report.junit.xml.
type junitTestSuites struct {
	XMLName  xml.Name         `xml:"testsuites"`
	Name     string           `xml:"name,attr"`
	Tests    int              `xml:"tests,attr"`
	Failures int              `xml:"failures,attr"`
	Errors   int              `xml:"errors,attr"`
	Skipped  int              `xml:"skipped,attr"`
	Time     string           `xml:"time,attr"`
	Suites   []junitTestSuite `xml:"testsuite"`
}

// junitTestSuite is one run.
type junitTestSuite struct {
	Name      string `xml:"name,attr"`
	Tests     int    `xml:"tests,attr"`
	Failures  int    `xml:"failures,attr"`
	Errors    int    `xml:"errors,attr"`
	Skipped   int    `xml:"skipped,attr"`
	Time      string `xml:"time,attr"`
	Timestamp string `xml:"timestamp,attr,omitempty"`
	// Properties describe the run: its id, runtime, source, and whether it
	// was partial and why.
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitTestCase `xml:"testcase"`
	// SystemErr says the run was partial, when it was.
	SystemErr string `xml:"system-err,omitempty"`
}

// junitProperty is a name and a value.
type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// junitTestCase is one assertion or one deployment.
type junitTestCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Error     *junitFailure `xml:"error,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
}

// junitFailure is why a test case failed (or errored): Message is the
// assertion's one-line message, Type its kind, Text every violation, one
// per line.
type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// junitSkipped marks a test case that was not judged.
type junitSkipped struct {
	Message string `xml:"message,attr,omitempty"`
}

// WriteJUnit writes report.junit.xml: one test suite for the run, with a
// test case for the run's verdict, one per step, one per assertion and one
// per ECS deployment ("deployment NAME ended OUTCOME, expected EXPECT").
//
// The verdict's test case fails on FAIL, is an <error> on ERROR (the run
// produced no evidence) and is skipped with the reason on INCONCLUSIVE. A
// step's test case fails when an assertion failed in it and is skipped
// with the reason when it was not judged (not reached, no requests) or was
// inconclusive. An assertion's test case fails when it fails and is
// skipped when it could not be judged. A deployment that did not end as
// expected fails its test case when the scenario asserts
// deployments-as-expected, and is skipped otherwise. So the file has a
// failure exactly when the verdict is FAIL and an error exactly when it
// is ERROR.
func WriteJUnit(w io.Writer, r *Report) error {
	s := newJUnitSuite(r)
	doc := junitTestSuites{
		Name: "meshsim", Tests: s.Tests, Failures: s.Failures, Errors: s.Errors, Skipped: s.Skipped,
		Time: s.Time, Suites: []junitTestSuite{s},
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("reports: write %s: %w", JUnitFile, err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("reports: write %s: %w", JUnitFile, err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("reports: write %s: %w", JUnitFile, err)
	}
	return nil
}

// junitVerdictCase is the test case of the run's verdict.
func junitVerdictCase(r *Report, class string) junitTestCase {
	c := junitTestCase{Name: "verdict", Classname: class, Time: junitSeconds(r.Run.WallTime)}
	line := verdictLine(r)
	switch r.Verdict {
	case VerdictFail:
		c.Failure = &junitFailure{Message: line, Type: VerdictFail, Text: r.VerdictReason}
	case VerdictError:
		c.Error = &junitFailure{Message: line, Type: VerdictError, Text: r.VerdictReason}
	case VerdictInconclusive:
		c.Skipped = &junitSkipped{Message: line}
	}
	return c
}

// junitStepCase is the test case of one step.
func junitStepCase(r *Report, s StepReport, class string) junitTestCase {
	c := junitTestCase{Name: fmt.Sprintf("step %d %s", s.Index, s.Name), Classname: class + ".steps", Time: junitSeconds(s.Duration)}
	switch s.Verdict {
	case VerdictFail:
		var lines []string
		for _, a := range r.Assertions {
			for _, f := range a.Failures {
				label := stepLabel(s)
				if slices.Contains(a.FailedSteps, s.Index) && (strings.Contains(f, label+":") || strings.Contains(f, label+" ")) {
					lines = append(lines, f)
				}
			}
		}
		if len(lines) == 0 {
			lines = []string{s.VerdictReason}
		}
		c.Failure = &junitFailure{Message: s.VerdictReason, Type: VerdictFail, Text: strings.Join(lines, "\n")}
	case VerdictInconclusive:
		c.Skipped = &junitSkipped{Message: "inconclusive: " + s.VerdictReason}
	case VerdictNotJudged:
		c.Skipped = &junitSkipped{Message: "not judged: " + s.VerdictReason}
	}
	return c
}

func newJUnitSuite(r *Report) junitTestSuite {
	info := r.Run
	class := "meshsim." + orDash(info.Scenario)
	s := junitTestSuite{
		Name: "meshsim " + orDash(info.Scenario),
		Time: junitSeconds(info.WallTime),
		Properties: []junitProperty{
			{"runId", info.RunID},
			{"scenarioSource", info.ScenarioSource},
			{"runtime", info.Runtime},
			{"measuredService", info.MeasuredService},
			{"verdict", r.Verdict},
			{"verdictReason", r.VerdictReason},
			{"partial", strconv.FormatBool(info.Partial)},
		},
	}
	if !info.Started.IsZero() {
		s.Timestamp = info.Started.UTC().Format("2006-01-02T15:04:05")
	}
	if info.Partial {
		s.Properties = append(s.Properties, junitProperty{"reason", info.Reason})
		s.SystemErr = fmt.Sprintf("partial run: %s. The assertions judge what was recorded.", orDash(info.Reason))
	}

	s.Cases = append(s.Cases, junitVerdictCase(r, class))
	for _, st := range r.Steps {
		s.Cases = append(s.Cases, junitStepCase(r, st, class))
	}
	assertsDeployments := false
	for _, a := range r.Assertions {
		c := junitTestCase{Name: assertionTitle(a), Classname: class, Time: junitSeconds(0)}
		if a.Kind == assertDeploymentsAsExpected {
			assertsDeployments = true
		}
		if a.outcome() == VerdictInconclusive {
			c.Skipped = &junitSkipped{Message: a.Message}
		}
		if a.outcome() == VerdictFail {
			text := a.Message
			if len(a.Failures) > 0 {
				text = strings.Join(a.Failures, "\n")
			}
			if a.Source != "" {
				text += "\nat " + a.Source
			}
			if a.Caveat != "" {
				text += "\nnote: " + a.Caveat
			}
			c.Failure = &junitFailure{Message: a.Message, Type: a.Kind, Text: text}
		}
		s.Cases = append(s.Cases, c)
	}
	for _, d := range r.Deployments {
		outcome := d.Outcome
		if outcome == "" {
			outcome = "not finished"
		}
		c := junitTestCase{
			Name:      fmt.Sprintf("deployment %s ended %s, expected %s", d.Name, outcome, d.Expect),
			Classname: class + ".deployments",
			Time:      junitSeconds(d.Duration),
		}
		if !d.AsExpected {
			msg := fmt.Sprintf("deployment %q (%s → %s) ended %s, expected %s", d.Name, d.From, d.To, outcome, d.Expect)
			if d.RollbackReason != "" {
				msg += ": " + d.RollbackReason
			}
			if assertsDeployments {
				c.Failure = &junitFailure{Message: msg, Type: assertDeploymentsAsExpected, Text: msg}
			} else {
				c.Skipped = &junitSkipped{Message: msg + " (not asserted: the scenario has no " + assertDeploymentsAsExpected + " assertion)"}
			}
		}
		s.Cases = append(s.Cases, c)
	}
	s.Tests = len(s.Cases)
	for _, c := range s.Cases {
		switch {
		case c.Failure != nil:
			s.Failures++
		case c.Error != nil:
			s.Errors++
		case c.Skipped != nil:
			s.Skipped++
		}
	}
	return s
}

// junitSeconds is d in seconds, as JUnit's time attributes are.
func junitSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
}

// writeHTMLAndJUnit writes report.html and report.junit.xml into dir.
func writeHTMLAndJUnit(dir string, r *Report) error {
	var page, junit bytes.Buffer
	if err := WriteHTML(&page, r); err != nil {
		return err
	}
	if err := WriteJUnit(&junit, r); err != nil {
		return err
	}
	if err := writeFile(dir, HTMLFile, page.Bytes()); err != nil {
		return err
	}
	return writeFile(dir, JUnitFile, junit.Bytes())
}
