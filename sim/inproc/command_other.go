//go:build !unix

package inproc

import (
	"os"
	"os/exec"
	"syscall"
)

// setProcessGroup does nothing where there are no process groups.
func setProcessGroup(*exec.Cmd) {}

// signalGroup signals the process alone: SIGKILL kills it, other signals
// are not delivered on this system.
func signalGroup(pid int, sig syscall.Signal) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	if sig == syscall.SIGKILL {
		return p.Kill()
	}
	return p.Signal(sig)
}

func exitSignal(*os.ProcessState) string    { return "" }
func exitSignalNumber(*os.ProcessState) int { return 0 }
