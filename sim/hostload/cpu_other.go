//go:build !unix

package hostload

import (
	"errors"
	"time"
)

// processCPU is not readable on this system.
func processCPU() (time.Duration, error) {
	return 0, errors.New("process CPU not readable on this system")
}
