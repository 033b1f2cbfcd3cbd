package rundir

import "time"

// Deployment is one ECS deployment a run made (UpdateService) and what
// became of it, as DescribeServiceDeployments reported it.
type Deployment struct {
	Name     string `json:"name"`
	Service  string `json:"service"`
	Strategy string `json:"strategy"`
	// From and To are the versions deployed from and to.
	From string `json:"from"`
	To   string `json:"to"`
	// Arn is the service deployment's ARN.
	Arn string `json:"arn,omitempty"`
	// Expect is the outcome the scenario expects; Outcome is the final
	// status ECS reported (SUCCESSFUL, ROLLBACK_SUCCESSFUL, STOPPED,
	// ROLLBACK_FAILED), empty when the run ended first.
	Expect  string `json:"expect"`
	Outcome string `json:"outcome,omitempty"`
	// ExpectReason, when set, is a substring RollbackReason must contain
	// for the deployment to have ended as expected.
	ExpectReason string `json:"expectReason,omitempty"`
	// RollbackReason is why ECS rolled back, if it did.
	RollbackReason string    `json:"rollbackReason,omitempty"`
	Started        time.Time `json:"started"`
	Ended          time.Time `json:"ended,omitzero"`
	// Stages are the lifecycle stages in the order the deployment went
	// through them, with when each began.
	Stages []Stage `json:"stages,omitempty"`
	// Gates are the lifecycle hook invocations meshsim answered.
	Gates []Gate `json:"gates,omitempty"`
}

// Stage is a lifecycle stage of a deployment and when it began.
type Stage struct {
	Stage string    `json:"stage"`
	At    time.Time `json:"at"`
}

// Gate is one lifecycle hook invocation judged by meshsim's measurements.
type Gate struct {
	Stage  string    `json:"stage"`
	At     time.Time `json:"at"`
	Status string    `json:"status"` // SUCCEEDED or FAILED
	// Requests, Failed and P99 are what the gate saw in its window.
	Requests int           `json:"requests"`
	Failed   int           `json:"failed"`
	P99      time.Duration `json:"p99Ns"`
	Reason   string        `json:"reason"`
	// From and To bound the gate's window: the requests that completed
	// in [From, To). Through is how many observations the run had
	// recorded when the gate judged, so that the window can be recomputed
	// from the run directory (metrics.WindowOf) with the same result.
	From    time.Time `json:"from,omitzero"`
	To      time.Time `json:"to,omitzero"`
	Through int       `json:"through,omitempty"`
}
