package engine

import (
	"errors"
	"sync"

	"github.com/meshsim/meshsim/scenarios/engine/status"
)

// Steer carries a user's requests to a running rollout (the dashboard's
// keys): pause at the end of the current step and resume, advance to the
// next step now, roll back, abort. Its methods never block; the engine
// honours them while it holds a step (advance, pause, rollback, abort), at
// a step's end (pause), and while it follows an ECS deployment (rollback
// with StopServiceDeployment ROLLBACK, abort). A nil *Steer steers nothing.
type Steer struct {
	mu                    sync.Mutex
	paused, holding       bool
	rollingBack, aborting bool
	advances              int           // advances asked for and not yet taken
	wake                  chan struct{} // a request arrived
}

// NewSteer returns the controls of one run.
func NewSteer() *Steer { return &Steer{wake: make(chan struct{}, 1)} }

// errAborted ends a run the user aborted; errRolledBack ends the route
// steps of a run the user rolled back.
var (
	errAborted    = errors.New("aborted by the user")
	errRolledBack = errors.New("rolled back by the user")
)

// TogglePause asks the run to hold at the end of the current step, or to
// go on; it returns whether the run is now paused.
func (s *Steer) TogglePause() bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	s.paused = !s.paused
	p := s.paused
	s.mu.Unlock()
	s.signal()
	return p
}

// Advance asks the run to end the step it holds now.
func (s *Steer) Advance() { s.set(func() { s.advances++ }) }

// Rollback asks the run to roll back: route steps return to the first
// step's weights; an ECS deployment is stopped with ROLLBACK.
func (s *Steer) Rollback() { s.set(func() { s.rollingBack = true }) }

// Abort asks the run to stop now, leaving the world as it is; the run
// is reported as partial.
func (s *Steer) Abort() { s.set(func() { s.aborting = true }) }

func (s *Steer) set(f func()) {
	if s == nil {
		return
	}
	s.mu.Lock()
	f()
	s.mu.Unlock()
	s.signal()
}

func (s *Steer) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// woken is signalled when a request arrives; nil (never) for a nil Steer.
func (s *Steer) woken() <-chan struct{} {
	if s == nil {
		return nil
	}
	return s.wake
}

// State returns the controls' state, for the status.
func (s *Steer) State() status.Control {
	if s == nil {
		return status.Control{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return status.Control{Paused: s.paused, Holding: s.holding, RollingBack: s.rollingBack, Aborting: s.aborting}
}

// holdAction is what a step's hold does next.
type holdAction int

const (
	holdOn       holdAction = iota // keep holding
	holdEnd                        // end the step (its bake elapsed, or advance)
	holdAbort                      // stop the run
	holdRollback                   // roll back
)

// decide says what a hold does now, given whether its bake elapsed. A
// pause keeps a step whose bake elapsed in force (holding) until resumed
// or advanced.
func (s *Steer) decide(elapsed bool) holdAction {
	if s == nil {
		if elapsed {
			return holdEnd
		}
		return holdOn
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.aborting:
		return holdAbort
	case s.rollingBack:
		return holdRollback
	case s.advances > 0:
		s.advances--
		s.holding = false
		return holdEnd
	case elapsed && s.paused:
		s.holding = true
		return holdOn
	case elapsed:
		s.holding = false
		return holdEnd
	}
	return holdOn
}

// takeRollback reports whether a rollback was asked for and not yet
// carried out, and marks it carried out.
func (s *Steer) takeRollback() bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rollingBack
	s.rollingBack = false
	return r
}

// aborted reports whether the user aborted the run.
func (s *Steer) aborted() bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.aborting
}
