package reports_test

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/reports"
)

// The JUnit schema CI systems read, declared here independently of the
// writer's types.
type junitDoc struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Suites   []struct {
		Name       string `xml:"name,attr"`
		Tests      int    `xml:"tests,attr"`
		Failures   int    `xml:"failures,attr"`
		Errors     int    `xml:"errors,attr"`
		Skipped    int    `xml:"skipped,attr"`
		Time       string `xml:"time,attr"`
		Timestamp  string `xml:"timestamp,attr"`
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases     []junitCase `xml:"testcase"`
		SystemErr string      `xml:"system-err"`
	} `xml:"testsuite"`
}

// junitCase is a test case of junitDoc.
type junitCase struct {
	Name      string `xml:"name,attr"`
	Classname string `xml:"classname,attr"`
	Time      string `xml:"time,attr"`
	Failure   *struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	} `xml:"failure"`
	Error *struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	} `xml:"error"`
	Skipped *struct {
		Message string `xml:"message,attr"`
	} `xml:"skipped"`
}

// wantCase is a test case TestWriteJUnit expects.
type wantCase struct {
	name, classname string
	// failure is the failure's type and a text its message and body
	// hold; "" when the case passes.
	failType, failText string
	// skipped is a text the skip message holds; "" when not skipped.
	skipped string
	// errText is a text the error holds; "" when the case has none.
	errText string
}

// checkJUnitCase checks the i-th test case got against want.
func checkJUnitCase(t *testing.T, i int, got junitCase, want wantCase) {
	t.Helper()
	if got.Name != want.name || got.Classname != want.classname || got.Time == "" {
		t.Errorf("case %d: name %q classname %q time %q, want %q %q", i, got.Name, got.Classname, got.Time, want.name, want.classname)
	}
	switch {
	case want.failType == "" && got.Failure != nil:
		t.Errorf("case %q fails: %+v", want.name, *got.Failure)
	case want.failType != "" && got.Failure == nil:
		t.Errorf("case %q has no failure", want.name)
	case want.failType != "":
		f := got.Failure
		if f.Type != want.failType || f.Message == "" || !strings.Contains(f.Message+"\n"+f.Text, want.failText) {
			t.Errorf("case %q failure type %q message %q text %q; want type %q with %q", want.name, f.Type, f.Message, f.Text, want.failType, want.failText)
		}
	}
	if (got.Skipped != nil) != (want.skipped != "") || (got.Skipped != nil && !strings.Contains(got.Skipped.Message, want.skipped)) {
		t.Errorf("case %q skipped = %+v, want one with %q", want.name, got.Skipped, want.skipped)
	}
	if (got.Error != nil) != (want.errText != "") || (got.Error != nil && !strings.Contains(got.Error.Message+"\n"+got.Error.Text, want.errText)) {
		t.Errorf("case %q error = %+v, want one with %q", want.name, got.Error, want.errText)
	}
}

func TestWriteJUnit(t *testing.T) {
	for _, tc := range []struct {
		name      string
		run       func() *rundir.Run
		suite     string
		time      string
		cases     []wantCase
		props     map[string]string
		systemErr string
	}{
		{
			name:  "canary",
			run:   sampleRun,
			suite: "meshsim canary", time: "21.000",
			cases: []wantCase{
				{name: "verdict", classname: "meshsim.canary", failType: "fail", failText: "FAIL: 1 of 2 assertions failed"},
				{name: "step 0 baseline", classname: "meshsim.canary.steps"},
				{name: "step 1 canary|10", classname: "meshsim.canary.steps", failType: "fail", failText: `step 1 "canary|10": 2 of 1002 requests failed`},
				{name: "step 2 promote", classname: "meshsim.canary.steps", skipped: "not judged: not reached"},
				{name: "weight-within 2 pp", classname: "meshsim.canary"},
				{name: "no-failed-requests", classname: "meshsim.canary", failType: "no-failed-requests", failText: `2 of 2002 requests failed; step 1 "canary|10"`},
			},
			props: map[string]string{"runId": "run-1", "runtime": "inproc", "verdict": "fail", "partial": "false"},
		},
		{
			name:  "failed deployment, asserted",
			run:   htmlDeploymentRun,
			suite: "meshsim canary", time: "21.000",
			cases: []wantCase{
				{name: "verdict", classname: "meshsim.canary", failType: "fail", failText: "FAIL: 1 of 1 assertions failed"},
				{name: "step 0 baseline", classname: "meshsim.canary.steps"},
				{name: "step 1 rolling", classname: "meshsim.canary.steps"},
				{name: "deployments-as-expected", classname: "meshsim.canary", failType: "deployments-as-expected", failText: `deployment "to-v2" (v1 → v2) ended ROLLBACK_SUCCESSFUL, expected SUCCESSFUL: circuit breaker`},
				{name: "deployment to-v2 ended ROLLBACK_SUCCESSFUL, expected SUCCESSFUL", classname: "meshsim.canary.deployments", failType: "deployments-as-expected", failText: "circuit breaker"},
			},
		},
		{
			name: "failed deployment, not asserted",
			run: func() *rundir.Run {
				run := htmlDeploymentRun()
				run.Meta.Assertions = nil
				return run
			},
			suite: "meshsim canary", time: "21.000",
			cases: []wantCase{
				{name: "verdict", classname: "meshsim.canary"},
				{name: "step 0 baseline", classname: "meshsim.canary.steps"},
				{name: "step 1 rolling", classname: "meshsim.canary.steps"},
				{name: "deployment to-v2 ended ROLLBACK_SUCCESSFUL, expected SUCCESSFUL", classname: "meshsim.canary.deployments", skipped: "not asserted"},
			},
			props: map[string]string{"verdict": "pass"},
		},
		{
			name: "partial run",
			run: func() *rundir.Run {
				run := sampleRun()
				run.Meta.Scenario = `a<b>&"c"`
				run.Meta.Partial, run.Meta.Reason = true, "interrupted <Ctrl-C>"
				run.Meta.Ended = time.Time{}
				return run
			},
			suite: `meshsim a<b>&"c"`, time: "21.000",
			cases: []wantCase{
				{name: "verdict", classname: `meshsim.a<b>&"c"`, failType: "fail", failText: "FAIL: 1 of 2 assertions failed (partial run)"},
				{name: "step 0 baseline", classname: `meshsim.a<b>&"c".steps`},
				{name: "step 1 canary|10", classname: `meshsim.a<b>&"c".steps`, failType: "fail", failText: "2 of 1002 requests failed"},
				{name: "step 2 promote", classname: `meshsim.a<b>&"c".steps`, skipped: "not judged: not reached"},
				{name: "weight-within 2 pp", classname: `meshsim.a<b>&"c"`},
				{name: "no-failed-requests", classname: `meshsim.a<b>&"c"`, failType: "no-failed-requests", failText: "at canary.yaml:31:7"},
			},
			props:     map[string]string{"partial": "true", "reason": "interrupted <Ctrl-C>"},
			systemErr: "partial run: interrupted <Ctrl-C>. The assertions judge what was recorded.",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := reports.WriteJUnit(&b, reports.Analyze(tc.run())); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(b.String(), xml.Header) {
				t.Errorf("no XML header: %.60q", b.String())
			}
			var doc junitDoc
			if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
				t.Fatalf("unmarshal: %v\n%s", err, b.String())
			}
			failures, skipped, errs := 0, 0, 0
			for _, c := range tc.cases {
				if c.failType != "" {
					failures++
				}
				if c.skipped != "" {
					skipped++
				}
				if c.errText != "" {
					errs++
				}
			}
			if len(doc.Suites) != 1 {
				t.Fatalf("%d test suites, want 1", len(doc.Suites))
			}
			s := doc.Suites[0]
			if doc.Tests != len(tc.cases) || doc.Failures != failures || doc.Errors != errs || doc.Skipped != skipped ||
				s.Tests != len(tc.cases) || s.Failures != failures || s.Skipped != skipped || s.Errors != errs {
				t.Errorf("counts: testsuites tests=%d failures=%d errors=%d skipped=%d, testsuite tests=%d failures=%d skipped=%d errors=%d; want tests=%d failures=%d skipped=%d errors=%d",
					doc.Tests, doc.Failures, doc.Errors, doc.Skipped, s.Tests, s.Failures, s.Skipped, s.Errors, len(tc.cases), failures, skipped, errs)
			}
			if s.Name != tc.suite || s.Time != tc.time || s.Timestamp != "2026-05-04T09:59:59" {
				t.Errorf("suite name %q time %q timestamp %q", s.Name, s.Time, s.Timestamp)
			}
			if len(s.Cases) != len(tc.cases) {
				t.Fatalf("%d test cases, want %d", len(s.Cases), len(tc.cases))
			}
			for i, want := range tc.cases {
				checkJUnitCase(t, i, s.Cases[i], want)
			}
			props := map[string]string{}
			for _, p := range s.Properties {
				props[p.Name] = p.Value
			}
			for k, v := range tc.props {
				if props[k] != v {
					t.Errorf("property %s = %q, want %q", k, props[k], v)
				}
			}
			if s.SystemErr != tc.systemErr {
				t.Errorf("system-err %q, want %q", s.SystemErr, tc.systemErr)
			}
		})
	}
}

func TestWriteJUnitFailureList(t *testing.T) {
	r := &reports.Report{
		Verdict: "fail",
		Run:     reports.RunInfo{Scenario: "s", RunID: "r"},
		Assertions: []reports.AssertionResult{{
			Kind: "weight-within", Value: 1, Message: "2 versions off", Source: "s.yaml:3:5",
			Failures: []string{"step 1 version v1 off by 3 pp", "step 2 version v2 off by 2 pp"},
		}},
	}
	var b bytes.Buffer
	if err := reports.WriteJUnit(&b, r); err != nil {
		t.Fatal(err)
	}
	var doc junitDoc
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	f := doc.Suites[0].Cases[1].Failure
	want := "step 1 version v1 off by 3 pp\nstep 2 version v2 off by 2 pp\nat s.yaml:3:5"
	if f == nil || f.Message != "2 versions off" || f.Text != want {
		t.Errorf("failure %+v, want message %q and text %q", f, "2 versions off", want)
	}
	if doc.Suites[0].Timestamp != "" {
		t.Errorf("timestamp %q for a run without a start", doc.Suites[0].Timestamp)
	}
}
