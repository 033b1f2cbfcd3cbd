package hostload

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadFiles(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	tests := []struct {
		name            string
		loadavg, stat   string // file contents; "-" for a missing file
		wantLoad        float64
		loadErr         string
		wantSteal, want uint64
		stealErr        string
	}{
		{
			name:     "linux",
			loadavg:  "14.02 12.50 9.11 3/467 12345\n",
			stat:     "cpu  43961 0 14744 63416 491 0 490 977 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n",
			wantLoad: 14.02, wantSteal: 977, want: 43961 + 14744 + 63416 + 491 + 490 + 977,
		},
		{
			name:     "old kernel without steal",
			loadavg:  "0.5 0.5 0.5 1/1 1\n",
			stat:     "cpu  10 0 10 10\n",
			wantLoad: 0.5, stealErr: "no steal column",
		},
		{name: "missing files", loadavg: "-", stat: "-", loadErr: "load average not readable", stealErr: "CPU steal not readable"},
		{name: "garbage", loadavg: "abc\n", stat: "intr 1 2 3\n", loadErr: "is not a load", stealErr: "does not start with the cpu line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Reader{LoadavgPath: missing, StatPath: missing}
			if tt.loadavg != "-" {
				r.LoadavgPath = writeFile(t, "loadavg", tt.loadavg)
			}
			if tt.stat != "-" {
				r.StatPath = writeFile(t, "stat", tt.stat)
			}
			rd := r.Read()
			checkErr(t, "load", rd.LoadErr, tt.loadErr)
			checkErr(t, "steal", rd.StealErr, tt.stealErr)
			if tt.loadErr == "" && rd.Load1 != tt.wantLoad {
				t.Errorf("Load1 = %v, want %v", rd.Load1, tt.wantLoad)
			}
			if tt.stealErr == "" && (rd.Steal != tt.wantSteal || rd.Total != tt.want) {
				t.Errorf("Steal, Total = %d, %d; want %d, %d", rd.Steal, rd.Total, tt.wantSteal, tt.want)
			}
			if rd.CPUs < 1 {
				t.Errorf("CPUs = %d", rd.CPUs)
			}
		})
	}
}

func checkErr(t *testing.T, what string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s: unexpected error %v", what, err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("%s: error %v, want one containing %q", what, err, want)
	}
}

func TestBetween(t *testing.T) {
	t0 := time.Unix(1000, 0)
	a := Reading{Time: t0, CPUs: 2, ProcessCPU: time.Second, Load1: 3, Steal: 100, Total: 1000}
	b := Reading{Time: t0.Add(2 * time.Second), CPUs: 2, ProcessCPU: 4 * time.Second, Load1: 14, Steal: 150, Total: 1400}
	f := Between(a, b)
	want := Figures{
		Interval: 2 * time.Second, CPUs: 2,
		ProcessCPU: 3 * time.Second, ProcessCores: 1.5, ProcessShare: 0.75, ProcessOK: true,
		Load1: 14, LoadOK: true,
		StealShare: 50.0 / 400, StealOK: true,
	}
	if f != want {
		t.Errorf("Between = %+v\nwant      %+v", f, want)
	}

	// Unreadable counters stay unreadable, never zero.
	b.LoadErr, b.StealErr, b.ProcessCPUErr = errNoSteal, errNoSteal, errNoSteal
	f = Between(a, b)
	if f.ProcessOK || f.LoadOK || f.StealOK {
		t.Errorf("Between with unreadable counters = %+v, want nothing readable", f)
	}
	// A counter that went backwards (another boot, a wrapped counter) is
	// not a figure.
	c := Reading{Time: t0.Add(time.Second), CPUs: 2, ProcessCPU: 0, Steal: 0, Total: 10}
	if f := Between(a, c); f.ProcessOK || f.StealOK {
		t.Errorf("Between with counters going back = %+v", f)
	}
}

// TestProcessCPU checks that the process's CPU time grows while it
// computes. It burns CPU until the counter moves (bounded), so it holds on
// a busy machine.
func TestProcessCPU(t *testing.T) {
	first := Read()
	if first.ProcessCPUErr != nil {
		t.Skipf("process CPU is not readable here: %v", first.ProcessCPUErr)
	}
	x := 0
	for i := 0; i < 1_000_000_000; i++ {
		x += i ^ (x >> 3)
		if i%1_000_000 == 0 {
			if rd := Read(); rd.ProcessCPU > first.ProcessCPU {
				f := Between(first, rd)
				if !f.ProcessOK || f.ProcessCPU <= 0 {
					t.Fatalf("Between = %+v", f)
				}
				return
			}
		}
	}
	t.Fatalf("process CPU did not move from %v (%d)", first.ProcessCPU, x)
}
