package sidecar

import (
	"slices"
	"testing"
)

func TestWeighted(t *testing.T) {
	tests := []struct {
		addrs   []string
		weights []uint32
		want    []string
	}{
		{[]string{"a", "b"}, []uint32{0, 0}, []string{"a", "b"}},
		{[]string{"a", "b"}, []uint32{100, 100}, []string{"a", "b"}},
		{[]string{"a", "b"}, []uint32{100, 50}, []string{"a", "b", "a"}},
		{[]string{"a", "b", "c"}, []uint32{3, 1, 2}, []string{"a", "b", "c", "a", "c", "a"}},
		{[]string{"a"}, []uint32{7}, []string{"a"}},
	}
	for _, tc := range tests {
		if got := weighted(tc.addrs, slices.Clone(tc.weights)); !slices.Equal(got, tc.want) {
			t.Errorf("weighted(%v, %v) = %v, want %v", tc.addrs, tc.weights, got, tc.want)
		}
	}
}
