package ecs

import (
	"fmt"
	"slices"
	"testing"
)

func TestCircuitBreakerThresholdFormula(t *testing.T) {
	tests := []struct {
		desired int
		cb      circuitBreaker
		want    int
	}{
		{0, circuitBreaker{}, 3},
		{1, circuitBreaker{}, 3},
		{7, circuitBreaker{}, 4}, // 3.5 rounded up
		{100, circuitBreaker{}, 50},
		{400, circuitBreaker{}, 200},
		{1000, circuitBreaker{}, 200}, // at most 200
		{10, circuitBreaker{ThresholdConfiguration: &thresholdConfiguration{Type: "COUNT", Value: 7}}, 7},
		{1000, circuitBreaker{ThresholdConfiguration: &thresholdConfiguration{Type: "UNBOUNDED_PERCENT", Value: 50}}, 500},
		{2, circuitBreaker{ThresholdConfiguration: &thresholdConfiguration{Type: "BOUNDED_PERCENT", Value: 10}}, 3},
	}
	for _, tt := range tests {
		if got := tt.cb.threshold(tt.desired); got != tt.want {
			t.Errorf("threshold of %+v for %d tasks = %d, want %d", tt.cb.ThresholdConfiguration, tt.desired, got, tt.want)
		}
	}
}

func TestStrategySteps(t *testing.T) {
	linear := func(pct float64, bake int) deploymentConfig {
		return deploymentConfig{Strategy: strategyLinear, LinearConfiguration: &linearConfiguration{StepPercent: &pct, StepBakeTimeInMinutes: &bake}}
	}
	canary := func(pct float64, bake int) deploymentConfig {
		return deploymentConfig{Strategy: strategyCanary, CanaryConfiguration: &canaryConfiguration{CanaryPercent: &pct, CanaryBakeTimeInMinutes: &bake}}
	}
	tests := []struct {
		config deploymentConfig
		want   []float64
		bake   int
	}{
		{deploymentConfig{Strategy: strategyBlueGreen}, []float64{100}, 0},
		{linear(10, 1), []float64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}, 1},
		{linear(33.3, 6), []float64{33.3, 66.6, 99.9, 100}, 6},
		{linear(100, 6), []float64{100}, 6},
		{canary(5, 10), []float64{5, 100}, 10},
		{canary(0.1, 3), []float64{0.1, 100}, 3},
		{canary(100, 3), []float64{100}, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.config.Strategy, tt.want), func(t *testing.T) {
			got, bake := tt.config.steps()
			if !slices.Equal(got, tt.want) || bake != tt.bake {
				t.Errorf("steps %v every %d minutes, want %v every %d", got, bake, tt.want, tt.bake)
			}
		})
	}
}
