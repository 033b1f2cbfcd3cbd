// Package hostload reads how busy the machine and this process are: the
// CPU time the process has used, how long its goroutines waited for a CPU,
// the host's load average and the CPU time the hypervisor stole from it. meshsim samples these while a run goes, so
// that a verdict can say whether the host, rather than the rollout, was
// short of CPU.
//
// A Reading is cumulative, as the kernel keeps the counters; Between turns
// two readings into the figures of the interval between them. Figures that
// this system does not expose (the load average and steal outside Linux,
// steal in some containers and VMs) are reported as not readable, never as
// zero.
package hostload

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

// The files read on Linux; a Reader can read others.
const (
	loadavgPath = "/proc/loadavg"
	statPath    = "/proc/stat"
)

// Reading is one reading of the counters.
type Reading struct {
	// Time is when the reading was taken.
	Time time.Time
	// CPUs is the number of CPUs the host has.
	CPUs int
	// ProcessCPU is the CPU time (user and system) this process has used
	// since it started.
	ProcessCPU time.Duration
	// ProcessCPUErr says why ProcessCPU could not be read; nil when it was.
	ProcessCPUErr error
	// Load1 is the host's one-minute load average: the number of threads
	// running or waiting to run, averaged. LoadErr says why it could not be
	// read; nil when it was.
	Load1   float64
	LoadErr error
	// Steal and Total are the host's CPU time stolen by the hypervisor and
	// spent in all states, in clock ticks since boot (the "cpu" line of
	// /proc/stat). StealErr says why they could not be read; nil when they
	// were.
	Steal, Total uint64
	StealErr     error
	// sched and schedBuckets are the Go runtime's cumulative histogram of
	// how long this process's goroutines waited to run; SchedErr says why
	// it could not be read.
	sched        []uint64
	schedBuckets []float64
	SchedErr     error
}

// Reader takes readings. The zero Reader reads this system's files.
type Reader struct {
	// LoadavgPath and StatPath replace /proc/loadavg and /proc/stat when
	// set.
	LoadavgPath, StatPath string
	// now replaces time.Now in tests.
	now func() time.Time
}

// Read takes a reading. It never fails: a counter it cannot read carries
// the reason in its Err field.
func (r Reader) Read() Reading {
	now := time.Now
	if r.now != nil {
		now = r.now
	}
	rd := Reading{Time: now(), CPUs: runtime.NumCPU()}
	rd.ProcessCPU, rd.ProcessCPUErr = processCPU()
	rd.Load1, rd.LoadErr = readLoad1(orDefault(r.LoadavgPath, loadavgPath))
	rd.Steal, rd.Total, rd.StealErr = readSteal(orDefault(r.StatPath, statPath))
	rd.sched, rd.schedBuckets, rd.SchedErr = readSched()
	return rd
}

// Read takes a reading of this system.
func Read() Reading { return Reader{}.Read() }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Figures are the figures of the interval between two readings.
type Figures struct {
	// Interval is the wall time between the readings.
	Interval time.Duration
	// CPUs is the host's number of CPUs.
	CPUs int
	// ProcessCPU is the CPU time the process used in the interval;
	// ProcessCores is that per wall second: the number of CPUs it kept
	// busy on average. ProcessShare is ProcessCores / CPUs, the share of
	// the host's CPU capacity the process used. ProcessOK says whether
	// these were readable.
	ProcessCPU   time.Duration
	ProcessCores float64
	ProcessShare float64
	ProcessOK    bool
	// Load1 is the one-minute load average at the end of the interval;
	// LoadOK says whether it was readable.
	Load1  float64
	LoadOK bool
	// StealShare is the share of the host's CPU time stolen by the
	// hypervisor in the interval; StealOK says whether it was readable.
	StealShare float64
	StealOK    bool
	// SchedP99 is the 99th percentile of how long this process's
	// goroutines waited for a CPU once runnable, in the interval (the upper
	// bound of its histogram bucket): the delay every part of meshsim in
	// this process (load generator, and with the inproc runtime the
	// sidecars and services) added because it was short of CPU. SchedOK
	// says whether it was readable and any goroutine ran.
	SchedP99 time.Duration
	SchedOK  bool
}

// Between returns the figures of the interval from a to b, a taken first.
func Between(a, b Reading) Figures {
	f := Figures{Interval: b.Time.Sub(a.Time), CPUs: b.CPUs}
	if a.ProcessCPUErr == nil && b.ProcessCPUErr == nil && f.Interval > 0 && b.ProcessCPU >= a.ProcessCPU {
		f.ProcessOK = true
		f.ProcessCPU = b.ProcessCPU - a.ProcessCPU
		f.ProcessCores = f.ProcessCPU.Seconds() / f.Interval.Seconds()
		if f.CPUs > 0 {
			f.ProcessShare = f.ProcessCores / float64(f.CPUs)
		}
	}
	if b.LoadErr == nil {
		f.Load1, f.LoadOK = b.Load1, true
	}
	if a.SchedErr == nil && b.SchedErr == nil {
		f.SchedP99, f.SchedOK = schedQuantile(a.sched, b.sched, b.schedBuckets, 0.99)
	}
	if a.StealErr == nil && b.StealErr == nil && b.Total > a.Total && b.Steal >= a.Steal {
		f.StealOK = true
		f.StealShare = float64(b.Steal-a.Steal) / float64(b.Total-a.Total)
	}
	return f
}

// readLoad1 reads the one-minute load average from a file in the format of
// /proc/loadavg ("0.52 0.58 0.59 1/467 12345").
func readLoad1(path string) (float64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("load average not readable: %w", err)
	}
	fields := bytes.Fields(data)
	if len(fields) < 1 {
		return 0, fmt.Errorf("load average not readable: %s is empty", path)
	}
	v, err := strconv.ParseFloat(string(fields[0]), 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("load average not readable: %s: %q is not a load", path, fields[0])
	}
	return v, nil
}

// errNoSteal is the reason steal is not readable when the kernel's cpu
// line has no steal column.
var errNoSteal = errors.New("CPU steal not readable: the cpu line of /proc/stat has no steal column")

// readSteal reads the aggregate "cpu" line of a file in the format of
// /proc/stat: user nice system idle iowait irq softirq steal guest
// guest_nice, in clock ticks. It returns the steal ticks and the total of
// the first eight columns (guest time is already counted in user).
func readSteal(path string) (steal, total uint64, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, fmt.Errorf("CPU steal not readable: %w", err)
	}
	line, _, _ := bytes.Cut(data, []byte{'\n'})
	fields := bytes.Fields(line)
	if len(fields) == 0 || string(fields[0]) != "cpu" {
		return 0, 0, fmt.Errorf("CPU steal not readable: %s does not start with the cpu line", path)
	}
	cols := fields[1:]
	if len(cols) < 8 {
		return 0, 0, errNoSteal
	}
	for i, c := range cols[:8] {
		v, err := strconv.ParseUint(string(c), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("CPU steal not readable: %s: column %d %q is not a count", path, i+1, c)
		}
		total += v
		if i == 7 {
			steal = v
		}
	}
	return steal, total, nil
}
