package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// execute runs the meshsim command with args and returns its output and
// the exit code main would use.
func execute(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := rootCmd(&out, &errOut)
	root.SetArgs(args)
	err := root.Execute()
	var ee *exitError
	switch {
	case err == nil:
		code = exitOK
	case errors.As(err, &ee):
		code = ee.code
		errOut.WriteString(ee.Error())
	default:
		code = exitBadInput
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), code
}

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	src, err := os.ReadFile("scenarios/builtin/bookingapp-canary.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, src, 0o644); err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(src), "bake: 6s}", "bake: soon}", 1)
	// A directory that holds another run: --out to it must fail before
	// anything touches it.
	oldRun := filepath.Join(dir, "old-run")
	if err := os.MkdirAll(oldRun, 0o755); err != nil {
		t.Fatal(err)
	}
	oldMeta := []byte(`{"runId":"old"}`)
	if err := os.WriteFile(filepath.Join(oldRun, "run.json"), oldMeta, 0o644); err != nil {
		t.Fatal(err)
	}
	defer func() {
		entries, _ := os.ReadDir(oldRun)
		meta, _ := os.ReadFile(filepath.Join(oldRun, "run.json"))
		if len(entries) != 1 || string(meta) != string(oldMeta) {
			t.Errorf("--out touched the old run: %d entries, run.json %q", len(entries), meta)
		}
	}()
	if err := os.WriteFile(bad, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		args       []string
		code       int
		wantOut    string
		wantStderr string
	}{
		{"list", []string{"scenarios", "list"}, exitOK, "bookingapp-canary", ""},
		{"show", []string{"scenarios", "show", "bookingapp-canary"}, exitOK, "name: bookingapp-canary", ""},
		{"show unknown", []string{"scenarios", "show", "nope"}, exitBadInput, "", `no built-in scenario "nope"`},
		{"validate good", []string{"scenarios", "validate", good}, exitOK, "good.yaml: ok (bookingapp-canary: 2 services, 5 steps, 30s of rollout)", ""},
		{"validate bad", []string{"scenarios", "validate", good, bad}, exitBadInput, "", "bad.yaml:40:57: steps[].bake must be a duration"},
		{"run bad file", []string{"run", bad}, exitBadInput, "", "steps[].bake must be a duration"},
		{"run unknown", []string{"run", "no-such-scenario"}, exitBadInput, "", "meshsim scenarios list"},
		{"run bad rate", []string{"run", "bookingapp-canary", "--rate", "-3"}, exitBadInput, "", "--rate must be from 0.1 to 20000 requests per second, not -3"},
		{"run zero rate", []string{"run", "bookingapp-canary", "--rate", "0"}, exitBadInput, "", "--rate must be from 0.1 to 20000 requests per second, not 0"},
		{"run typo", []string{"run", "bookingap-canary"}, exitBadInput, "", "did you mean bookingapp-canary?"},
		{"run bake on deployments", []string{"run", "ecs-canary", "--bake", "2s"}, exitBadInput, "", "rolls out by ECS deployments"},
		{"run out holds a run", []string{"run", "bookingapp-canary", "--out", oldRun}, exitBadInput, "", "already holds a run (run.json)"},
		{"up out holds a run", []string{"up", "bookingapp-canary", "--out", oldRun}, exitBadInput, "", "already holds a run (run.json)"},
		{"schema", []string{"scenarios", "schema"}, exitOK, `"$schema": "https://json-schema.org/draft/2020-12/schema"`, ""},
		{"complete scenario", []string{"__complete", "run", "bookingapp-c"}, exitOK, "bookingapp-canary\t", ""},
		{"complete runtime", []string{"__complete", "run", "x", "--runtime", ""}, exitOK, "inproc\t", ""},
		{"complete file", []string{"__complete", "run", "./"}, exitOK, "yaml\nyml\n:8", ""},
		{"run bad flag", []string{"run", "bookingapp-canary", "--nope"}, exitBadInput, "", "unknown flag: --nope"},
		{"unknown command", []string{"fly"}, exitBadInput, "", `unknown command "fly"`},
		{"report missing dir", []string{"report", filepath.Join(dir, "missing")}, exitBadInput, "", "reading the run directory"},
		{"version", []string{"version"}, exitOK, "meshsim", ""},
		{"help", []string{"run", "--help"}, exitOK, "--bake", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := execute(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Errorf("stdout lacks %q:\n%s", tc.wantOut, out)
			}
			if !strings.Contains(errOut, tc.wantStderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantStderr, errOut)
			}
		})
	}
}
