package capacity

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
)

// USL is Gunther's Universal Scalability Law: the throughput of N units of
// concurrency (requests in flight, or tasks) is
//
//	X(N) = λN / (1 + σ(N−1) + κN(N−1))
//
// with σ the contention (the serial share of the work), κ the coherency
// cost (crosstalk between units) and λ the throughput of one unit.
type USL struct {
	Sigma  float64 `json:"sigma"`
	Kappa  float64 `json:"kappa"`
	Lambda float64 `json:"lambda"`
}

// Throughput is X(n).
func (m USL) Throughput(n float64) float64 {
	return m.Lambda * n / (1 + m.Sigma*(n-1) + m.Kappa*n*(n-1))
}

// MaxConcurrency is where X peaks, ⌊√((1−σ)/κ)⌋; +Inf when κ is 0 (the
// throughput then only flattens, towards λ/σ).
func (m USL) MaxConcurrency() float64 {
	if m.Kappa <= 0 {
		return math.Inf(1)
	}
	return math.Floor(math.Sqrt((1 - m.Sigma) / m.Kappa))
}

// MaxThroughput is X at MaxConcurrency, or the asymptote λ/σ without
// coherency cost (+Inf when σ is 0 too: linear scaling).
func (m USL) MaxThroughput() float64 {
	n := m.MaxConcurrency()
	if math.IsInf(n, 1) {
		if m.Sigma <= 0 {
			return math.Inf(1)
		}
		return m.Lambda / m.Sigma
	}
	return m.Throughput(n)
}

// USLFit is a USL fitted to measured (N, X) points by nonlinear least
// squares.
type USLFit struct {
	USL
	// StdErr holds the standard errors of σ, κ and λ from the fit's
	// covariance s²(JᵀJ)⁻¹ (NaN when not estimable: as many parameters as
	// points, or a parameter held at 0).
	StdErr USL `json:"stdErr"`
	// R2 is the coefficient of determination; RMSE the root mean square
	// residual; Residuals are X − X̂ per point, in the points' order.
	R2        float64   `json:"r2"`
	RMSE      float64   `json:"rmse"`
	Residuals []float64 `json:"residuals"`
	// Points is how many points were fitted.
	Points int `json:"points"`
	// Fixed names the parameters held at 0 because the unconstrained
	// optimum put them below (σ and κ cannot be negative).
	Fixed []string `json:"fixed,omitempty"`
}

// ErrTooFewPoints is returned by FitUSL for fewer than 3 points.
var ErrTooFewPoints = errors.New("capacity: a USL fit needs at least 3 points")

// FitUSL fits the USL to the points (n[i], x[i]) with gonum/optimize
// (BFGS on the sum of squared residuals, with its analytic gradient),
// starting from the linearised least-squares solution, and holding σ or κ
// at 0 when the unconstrained optimum is negative.
func FitUSL(n, x []float64) (USLFit, error) {
	if len(n) != len(x) {
		return USLFit{}, fmt.Errorf("capacity: %d concurrencies and %d throughputs", len(n), len(x))
	}
	if len(n) < 3 {
		return USLFit{}, ErrTooFewPoints
	}
	for i := range n {
		if !(n[i] > 0) || !(x[i] >= 0) || math.IsInf(n[i], 0) || math.IsInf(x[i], 0) {
			return USLFit{}, fmt.Errorf("capacity: point %d (N %g, X %g): want N > 0 and X ≥ 0", i, n[i], x[i])
		}
	}
	init := initialUSL(n, x)
	free := [3]bool{true, true, true}
	var (
		m   USL
		err error
	)
	for range 3 {
		if m, err = minimizeSSE(n, x, init, free); err != nil {
			return USLFit{}, err
		}
		changed := false
		if free[0] && m.Sigma < 0 {
			free[0], init.Sigma, changed = false, 0, true
		}
		if free[1] && m.Kappa < 0 {
			free[1], init.Kappa, changed = false, 0, true
		}
		if !changed {
			break
		}
	}
	return describeFit(n, x, m, free), nil
}

// initialUSL is the start of the fit: λ₀ = max X/N, and σ, κ from the
// linearised law N·λ₀/X − 1 = σ(N−1) + κN(N−1) by least squares through
// the origin (negative values replaced by small positive ones).
func initialUSL(n, x []float64) USL {
	lambda := 0.0
	for i := range n {
		lambda = max(lambda, x[i]/n[i])
	}
	var a11, a12, a22, b1, b2 float64
	for i := range n {
		if x[i] <= 0 {
			continue
		}
		u, v := n[i]-1, n[i]*(n[i]-1)
		y := n[i]*lambda/x[i] - 1
		a11, a12, a22 = a11+u*u, a12+u*v, a22+v*v
		b1, b2 = b1+u*y, b2+v*y
	}
	m := USL{Sigma: 0.1, Kappa: 0.01, Lambda: lambda}
	if det := a11*a22 - a12*a12; det > 0 {
		m.Sigma, m.Kappa = (a22*b1-a12*b2)/det, (a11*b2-a12*b1)/det
	}
	if m.Sigma <= 0 {
		m.Sigma = 1e-3
	}
	if m.Kappa <= 0 {
		m.Kappa = 1e-6
	}
	return m
}

// minimizeSSE minimises the sum of squared residuals over the free
// parameters (σ, κ, λ in that order), the others held at init's values.
// Each parameter is scaled by its starting magnitude and the sum by ΣX², so
// that BFGS sees a well-conditioned problem.
func minimizeSSE(n, x []float64, init USL, free [3]bool) (USL, error) {
	theta0 := [3]float64{init.Sigma, init.Kappa, init.Lambda}
	scale := [3]float64{max(math.Abs(init.Sigma), 1e-3), max(math.Abs(init.Kappa), 1e-7), max(init.Lambda, 1e-9)}
	var idx []int
	for i, f := range free {
		if f {
			idx = append(idx, i)
		}
	}
	var norm float64
	for _, v := range x {
		norm += v * v
	}
	norm = max(norm, 1e-300)
	theta := func(p []float64) USL {
		t := theta0
		for k, i := range idx {
			t[i] = p[k] * scale[i]
		}
		return USL{Sigma: t[0], Kappa: t[1], Lambda: t[2]}
	}
	prob := optimize.Problem{
		Func: func(p []float64) float64 {
			m := theta(p)
			var sse float64
			for i := range n {
				r := x[i] - m.Throughput(n[i])
				sse += r * r
			}
			return sse / norm
		},
		Grad: func(grad, p []float64) {
			m := theta(p)
			var g [3]float64
			for i := range n {
				r := x[i] - m.Throughput(n[i])
				d := uslPartials(m, n[i])
				for j := range g {
					g[j] += -2 * r * d[j]
				}
			}
			for k, i := range idx {
				grad[k] = g[i] * scale[i] / norm
			}
		},
	}
	p0 := make([]float64, len(idx))
	for k, i := range idx {
		p0[k] = theta0[i] / scale[i]
	}
	res, err := optimize.Minimize(prob, p0, &optimize.Settings{
		GradientThreshold: 1e-14,
		Converger:         &optimize.FunctionConverge{Absolute: 1e-16, Relative: 1e-14, Iterations: 200},
		MajorIterations:   10000,
	}, &optimize.BFGS{})
	if err != nil && res == nil {
		return USL{}, fmt.Errorf("capacity: fitting the USL: %w", err)
	}
	return theta(res.X), nil
}

// uslPartials are ∂X/∂σ, ∂X/∂κ and ∂X/∂λ at n.
func uslPartials(m USL, n float64) [3]float64 {
	d := 1 + m.Sigma*(n-1) + m.Kappa*n*(n-1)
	return [3]float64{
		-m.Lambda * n * (n - 1) / (d * d),
		-m.Lambda * n * n * (n - 1) / (d * d),
		n / d,
	}
}

// describeFit adds the goodness of fit and the standard errors to m.
func describeFit(n, x []float64, m USL, free [3]bool) USLFit {
	f := USLFit{USL: m, Points: len(n), Residuals: make([]float64, len(n))}
	var sse, mean, sst float64
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	for i := range n {
		r := x[i] - m.Throughput(n[i])
		f.Residuals[i] = r
		sse += r * r
		sst += (x[i] - mean) * (x[i] - mean)
	}
	f.RMSE = math.Sqrt(sse / float64(len(n)))
	f.R2 = 1
	if sst > 0 {
		f.R2 = 1 - sse/sst
	}
	names := [3]string{"sigma", "kappa", "lambda"}
	var idx []int
	for i, fr := range free {
		if fr {
			idx = append(idx, i)
		} else {
			f.Fixed = append(f.Fixed, names[i])
		}
	}
	se := [3]float64{math.NaN(), math.NaN(), math.NaN()}
	if dof := len(n) - len(idx); dof > 0 {
		j := mat.NewDense(len(n), len(idx), nil)
		for i := range n {
			d := uslPartials(m, n[i])
			for k, p := range idx {
				j.Set(i, k, d[p])
			}
		}
		var jtj, cov mat.Dense
		jtj.Mul(j.T(), j)
		if err := cov.Inverse(&jtj); err == nil {
			s2 := sse / float64(dof)
			for k, p := range idx {
				if v := cov.At(k, k) * s2; v >= 0 {
					se[p] = math.Sqrt(v)
				}
			}
		}
	}
	f.StdErr = USL{Sigma: se[0], Kappa: se[1], Lambda: se[2]}
	return f
}
