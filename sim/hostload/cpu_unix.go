//go:build unix

package hostload

import (
	"fmt"
	"syscall"
	"time"
)

// processCPU returns the user and system CPU time this process has used,
// from getrusage(2).
func processCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("process CPU not readable: getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
