package ecs

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Deployment strategies of deploymentConfiguration.strategy.
const (
	strategyRolling   = "ROLLING"
	strategyBlueGreen = "BLUE_GREEN"
	strategyLinear    = "LINEAR"
	strategyCanary    = "CANARY"
)

// Lifecycle stages of a service deployment. The ones a hook can name are
// listed in hookStages.
const (
	stageReconcile      = "RECONCILE_SERVICE"
	stagePreScaleUp     = "PRE_SCALE_UP"
	stageScaleUp        = "SCALE_UP"
	stagePostScaleUp    = "POST_SCALE_UP"
	stageTestShift      = "TEST_TRAFFIC_SHIFT"
	stagePostTestShift  = "POST_TEST_TRAFFIC_SHIFT"
	stagePreProdShift   = "PRE_PRODUCTION_TRAFFIC_SHIFT"
	stageProdShift      = "PRODUCTION_TRAFFIC_SHIFT"
	stagePostProdShift  = "POST_PRODUCTION_TRAFFIC_SHIFT"
	stageBakeTime       = "BAKE_TIME"
	stageCleanUp        = "CLEAN_UP"
	hookTargetLambda    = "AWS_LAMBDA"
	hookTargetPause     = "PAUSE"
	hookActionContinue  = "CONTINUE"
	hookActionRollback  = "ROLLBACK"
	defaultHookTimeout  = 1440  // minutes
	maxHookTimeout      = 20160 // minutes
	maxBakeTime         = 1440  // minutes
	defaultStepPercent  = 10.0
	defaultStepBake     = 6
	defaultCanaryPct    = 5.0
	defaultCanaryBake   = 10
	minStepPercent      = 3.0
	minCanaryPercent    = 0.1
	maxTrafficPercent   = 100.0
	maxLifecycleHooks   = 10
	maxHookDetailsBytes = 32768
)

// hookStages are the lifecycle stages a hook can be configured for.
var hookStages = []string{
	stageReconcile, stagePreScaleUp, stagePostScaleUp, stageTestShift, stagePostTestShift,
	stagePreProdShift, stageProdShift, stagePostProdShift,
}

// deploymentConfig is the part of deploymentConfiguration the scheduler
// acts on.
type deploymentConfig struct {
	MaximumPercent           *int                 `json:"maximumPercent"`
	MinimumHealthyPercent    *int                 `json:"minimumHealthyPercent"`
	DeploymentCircuitBreaker *circuitBreaker      `json:"deploymentCircuitBreaker"`
	Strategy                 string               `json:"strategy"`
	BakeTimeInMinutes        *int                 `json:"bakeTimeInMinutes"`
	LinearConfiguration      *linearConfiguration `json:"linearConfiguration"`
	CanaryConfiguration      *canaryConfiguration `json:"canaryConfiguration"`
	LifecycleHooks           []lifecycleHook      `json:"lifecycleHooks"`
	Alarms                   *deploymentAlarms    `json:"alarms"`
}

type circuitBreaker struct {
	Enable                 bool                    `json:"enable"`
	Rollback               bool                    `json:"rollback"`
	ResetOnHealthyTask     *bool                   `json:"resetOnHealthyTask,omitempty"`
	ThresholdConfiguration *thresholdConfiguration `json:"thresholdConfiguration,omitempty"`
}

type thresholdConfiguration struct {
	Type  string `json:"type"`
	Value int    `json:"value"`
}

type linearConfiguration struct {
	StepPercent           *float64 `json:"stepPercent,omitempty"`
	StepBakeTimeInMinutes *int     `json:"stepBakeTimeInMinutes,omitempty"`
}

type canaryConfiguration struct {
	CanaryPercent           *float64 `json:"canaryPercent,omitempty"`
	CanaryBakeTimeInMinutes *int     `json:"canaryBakeTimeInMinutes,omitempty"`
}

type deploymentAlarms struct {
	AlarmNames []string `json:"alarmNames"`
	Enable     bool     `json:"enable"`
	Rollback   bool     `json:"rollback"`
}

type lifecycleHook struct {
	TargetType           string               `json:"targetType"`
	HookTargetArn        string               `json:"hookTargetArn"`
	RoleArn              string               `json:"roleArn"`
	LifecycleStages      []string             `json:"lifecycleStages"`
	HookDetails          json.RawMessage      `json:"hookDetails"`
	TimeoutConfiguration *hookTimeoutSettings `json:"timeoutConfiguration"`
}

type hookTimeoutSettings struct {
	TimeoutInMinutes *int   `json:"timeoutInMinutes"`
	Action           string `json:"action"`
}

// targetType returns the hook's target type, AWS_LAMBDA by default.
func (h *lifecycleHook) targetType() string {
	if h.TargetType == "" {
		return hookTargetLambda
	}
	return h.TargetType
}

// timeout returns the hook's timeout in minutes and its timeout action,
// with ECS's defaults: 1440 minutes, ROLLBACK.
func (h *lifecycleHook) timeout() (minutes int, action string) {
	minutes, action = defaultHookTimeout, hookActionRollback
	if t := h.TimeoutConfiguration; t != nil {
		if t.TimeoutInMinutes != nil {
			minutes = *t.TimeoutInMinutes
		}
		if t.Action != "" {
			action = t.Action
		}
	}
	return minutes, action
}

// shifts reports whether the strategy shifts traffic between revisions.
func (c *deploymentConfig) shifts() bool { return c.Strategy != strategyRolling }

// steps returns the production traffic weights (percent) a traffic-shifting
// deployment gives the target revision, in order, and the bake time in
// minutes after each step but the last.
func (c *deploymentConfig) steps() (weights []float64, bake int) {
	switch c.Strategy {
	case strategyCanary:
		pct, b := defaultCanaryPct, defaultCanaryBake
		if cc := c.CanaryConfiguration; cc != nil {
			pct, b = deref(cc.CanaryPercent, pct), deref(cc.CanaryBakeTimeInMinutes, b)
		}
		if pct >= maxTrafficPercent {
			return []float64{maxTrafficPercent}, 0
		}
		return []float64{pct, maxTrafficPercent}, b
	case strategyLinear:
		pct, b := defaultStepPercent, defaultStepBake
		if lc := c.LinearConfiguration; lc != nil {
			pct, b = deref(lc.StepPercent, pct), deref(lc.StepBakeTimeInMinutes, b)
		}
		// Count in tenths of a percent, the grain of stepPercent, so that
		// the steps add up exactly.
		step := int(math.Round(pct * 10))
		for w := step; ; w += step {
			if w >= 1000 {
				weights = append(weights, maxTrafficPercent)
				return weights, b
			}
			weights = append(weights, float64(w)/10)
		}
	default: // BLUE_GREEN
		return []float64{maxTrafficPercent}, 0
	}
}

// bake returns bakeTimeInMinutes, 0 when absent.
func (c *deploymentConfig) bake() int { return deref(c.BakeTimeInMinutes, 0) }

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// deploymentConfiguration lays update over old and fills in ECS's
// defaults, returning the echoed object and the parsed configuration. It
// validates the result as ECS does.
func deploymentConfiguration(old, update object) (object, deploymentConfig, error) {
	config := old.merged(update)
	config.setDefault("maximumPercent", 200)
	config.setDefault("minimumHealthyPercent", 100)
	config.setDefault("deploymentCircuitBreaker", circuitBreaker{})
	config.setDefault("strategy", strategyRolling)
	var parsed deploymentConfig
	b, _ := json.Marshal(config)
	if err := json.Unmarshal(b, &parsed); err != nil {
		return nil, parsed, invalidParameter("deploymentConfiguration: %v", err)
	}
	switch parsed.Strategy {
	case strategyLinear:
		lc := linearConfiguration{StepPercent: new(defaultStepPercent), StepBakeTimeInMinutes: new(defaultStepBake)}
		if c := parsed.LinearConfiguration; c != nil {
			lc.StepPercent = cmp.Or(c.StepPercent, lc.StepPercent)
			lc.StepBakeTimeInMinutes = cmp.Or(c.StepBakeTimeInMinutes, lc.StepBakeTimeInMinutes)
		}
		parsed.LinearConfiguration = &lc
		config.set("linearConfiguration", lc)
	case strategyCanary:
		cc := canaryConfiguration{CanaryPercent: new(defaultCanaryPct), CanaryBakeTimeInMinutes: new(defaultCanaryBake)}
		if c := parsed.CanaryConfiguration; c != nil {
			cc.CanaryPercent = cmp.Or(c.CanaryPercent, cc.CanaryPercent)
			cc.CanaryBakeTimeInMinutes = cmp.Or(c.CanaryBakeTimeInMinutes, cc.CanaryBakeTimeInMinutes)
		}
		parsed.CanaryConfiguration = &cc
		config.set("canaryConfiguration", cc)
	}
	if err := parsed.validate(); err != nil {
		return nil, parsed, err
	}
	return config, parsed, nil
}

// validate checks a deployment configuration as ECS does.
func (c *deploymentConfig) validate() error {
	switch {
	case *c.MinimumHealthyPercent < 0 || *c.MinimumHealthyPercent > 100:
		return invalidParameter("deploymentConfiguration.minimumHealthyPercent must be between 0 and 100.")
	case *c.MaximumPercent < 0:
		return invalidParameter("deploymentConfiguration.maximumPercent must be 0 or more.")
	}
	switch c.Strategy {
	case strategyRolling, strategyLinear, strategyCanary:
	case strategyBlueGreen:
		if c.BakeTimeInMinutes == nil {
			return invalidParameter("deploymentConfiguration.bakeTimeInMinutes is required for the BLUE_GREEN deployment strategy.")
		}
	default:
		return invalidParameter("deploymentConfiguration.strategy must be one of ROLLING, BLUE_GREEN, LINEAR or CANARY, not %q.", c.Strategy)
	}
	if b := c.BakeTimeInMinutes; b != nil && (*b < 0 || *b > maxBakeTime) {
		return invalidParameter("deploymentConfiguration.bakeTimeInMinutes must be between 0 and 1440.")
	}
	if err := c.validateSteps(); err != nil {
		return err
	}
	if len(c.LifecycleHooks) > maxLifecycleHooks {
		return invalidParameter("deploymentConfiguration.lifecycleHooks can have at most %d hooks.", maxLifecycleHooks)
	}
	for i, h := range c.LifecycleHooks {
		if err := h.validate(); err != nil {
			return invalidParameter("deploymentConfiguration.lifecycleHooks[%d]: %s", i, err.Error())
		}
	}
	if cb := c.DeploymentCircuitBreaker; cb != nil && cb.ThresholdConfiguration != nil {
		switch t := cb.ThresholdConfiguration; {
		case t.Type != "COUNT" && t.Type != "BOUNDED_PERCENT" && t.Type != "UNBOUNDED_PERCENT":
			return invalidParameter("deploymentCircuitBreaker.thresholdConfiguration.type must be COUNT, BOUNDED_PERCENT or UNBOUNDED_PERCENT.")
		case t.Value < 0:
			return invalidParameter("deploymentCircuitBreaker.thresholdConfiguration.value must be 0 or more.")
		}
	}
	return nil
}

// validate checks a lifecycle hook as ECS does.
func (h *lifecycleHook) validate() error {
	switch h.targetType() {
	case hookTargetLambda:
		if h.HookTargetArn == "" {
			return errors.New("hookTargetArn is required for an AWS_LAMBDA hook.")
		}
		if !strings.HasPrefix(h.HookTargetArn, "arn:") {
			return errors.New("hookTargetArn must be the ARN of a Lambda function.")
		}
	case hookTargetPause:
	default:
		return fmt.Errorf("targetType must be AWS_LAMBDA or PAUSE, not %s.", h.TargetType)
	}
	if len(h.LifecycleStages) == 0 {
		return errors.New("lifecycleStages is required.")
	}
	for _, st := range h.LifecycleStages {
		if !slices.Contains(hookStages, st) {
			return fmt.Errorf("lifecycleStages: %s is not a lifecycle stage a hook can run at.", st)
		}
		if h.targetType() == hookTargetPause && (st == stageTestShift || st == stageProdShift) {
			return errors.New("PAUSE hooks cannot be configured at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT stages.")
		}
	}
	if len(h.HookDetails) > maxHookDetailsBytes {
		return errors.New("hookDetails is larger than 32 KB.")
	}
	if t := h.TimeoutConfiguration; t != nil {
		if m := t.TimeoutInMinutes; m != nil && (*m < 1 || *m > maxHookTimeout) {
			return errors.New("timeoutConfiguration.timeoutInMinutes must be between 1 and 20160.")
		}
		if t.Action != "" && t.Action != hookActionContinue && t.Action != hookActionRollback {
			return errors.New("timeoutConfiguration.action must be ROLLBACK or CONTINUE.")
		}
	}
	return nil
}

// tenths reports whether p is a multiple of 0.1.
func tenths(p float64) bool {
	return math.Abs(p*10-math.Round(p*10)) < 1e-6
}

// validateSteps checks the traffic steps of a LINEAR or CANARY deployment.
func (c *deploymentConfig) validateSteps() error {
	switch c.Strategy {
	case strategyLinear:
		lc := c.LinearConfiguration
		if p := *lc.StepPercent; p < minStepPercent || p > maxTrafficPercent || !tenths(p) {
			return invalidParameter("deploymentConfiguration.linearConfiguration.stepPercent must be a multiple of 0.1 between 3.0 and 100.0.")
		}
		if b := *lc.StepBakeTimeInMinutes; b < 0 || b > maxBakeTime {
			return invalidParameter("deploymentConfiguration.linearConfiguration.stepBakeTimeInMinutes must be between 0 and 1440.")
		}
	case strategyCanary:
		cc := c.CanaryConfiguration
		if p := *cc.CanaryPercent; p < minCanaryPercent || p > maxTrafficPercent || !tenths(p) {
			return invalidParameter("deploymentConfiguration.canaryConfiguration.canaryPercent must be a multiple of 0.1 between 0.1 and 100.0.")
		}
		if b := *cc.CanaryBakeTimeInMinutes; b < 0 || b > maxBakeTime {
			return invalidParameter("deploymentConfiguration.canaryConfiguration.canaryBakeTimeInMinutes must be between 0 and 1440.")
		}
	}
	return nil
}
