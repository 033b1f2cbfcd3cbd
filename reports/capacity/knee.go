package capacity

import (
	"math"
	"sort"
)

// Knee is where throughput stops following the offered load: the
// saturation throughput of a hockey-stick fit X = min(offered, K) to the
// points, by least squares over K. Found is false when no point lies
// beyond the knee (every rate offered was served): K is then only a lower
// bound, the highest throughput measured.
type Knee struct {
	Throughput float64 `json:"throughput"`
	Found      bool    `json:"found"`
}

// FindKnee fits the hockey stick to the points (offered[i], throughput[i]).
// For a split of the points sorted by offered rate into a linear part and a
// flat part, the best K is the flat part's mean throughput, clamped between
// the two parts' rates; the split with the least squared error wins.
func FindKnee(offered, throughput []float64) Knee {
	type pt struct{ r, x float64 }
	pts := make([]pt, len(offered))
	for i := range offered {
		pts[i] = pt{offered[i], throughput[i]}
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].r < pts[j].r })
	if len(pts) == 0 {
		return Knee{}
	}
	best, bestSSE, found := 0.0, math.Inf(1), false
	for j := 0; j <= len(pts); j++ {
		// pts[:j] on the line X = r, pts[j:] on the flat X = K.
		lo := 0.0
		if j > 0 {
			lo = pts[j-1].r
		}
		var k float64
		if j < len(pts) {
			for _, p := range pts[j:] {
				k += p.x
			}
			k = min(max(k/float64(len(pts)-j), lo), pts[j].r)
		} else {
			k = lo
		}
		var sse float64
		for i, p := range pts {
			f := p.r
			if i >= j {
				f = k
			}
			sse += (p.x - f) * (p.x - f)
		}
		if math.IsInf(bestSSE, 1) || sse < bestSSE*(1-1e-9) {
			best, bestSSE, found = k, sse, j < len(pts)
		}
	}
	if !found || best >= pts[len(pts)-1].r*0.97 {
		// The flat part is within noise of the line: no knee yet.
		maxX := 0.0
		for _, p := range pts {
			maxX = max(maxX, p.x)
		}
		return Knee{Throughput: maxX}
	}
	return Knee{Throughput: best, Found: true}
}
