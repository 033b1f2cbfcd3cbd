package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/sim/grpcapp"
	"github.com/meshsim/meshsim/sim/poll/polltest"
)

func TestMeterArithmetic(t *testing.T) {
	began := time.Unix(1000, 0)
	const interval = 10 * time.Millisecond
	tests := []struct {
		name string
		// paces are (elapsed, sent) pairs given to pace, in order.
		paces []struct {
			elapsed time.Duration
			sent    uint64
		}
		at   time.Duration // Read at began+at
		want MeterReading
	}{
		{
			name: "on schedule",
			paces: []struct {
				elapsed time.Duration
				sent    uint64
			}{{0, 0}, {10 * time.Millisecond, 1}, {20 * time.Millisecond, 2}, {30 * time.Millisecond, 3}},
			at:   35 * time.Millisecond,
			want: MeterReading{Scheduled: true, Due: 3, Sent: 3},
		},
		{
			// The generator paced send 3 (due at 40ms) at 1s: it fell 960ms
			// behind, and at 1.5s it still has not paced send 4.
			name: "behind",
			paces: []struct {
				elapsed time.Duration
				sent    uint64
			}{{0, 0}, {10 * time.Millisecond, 1}, {20 * time.Millisecond, 2}, {time.Second, 3}},
			at:   1500 * time.Millisecond,
			want: MeterReading{Scheduled: true, Due: 150, Sent: 3, Lag: 1460 * time.Millisecond, MaxLag: 1460 * time.Millisecond},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Meter
			m.start(began, interval)
			for _, p := range tt.paces {
				m.pace(p.elapsed, p.sent, interval)
			}
			if got := m.Read(began.Add(tt.at)); got != tt.want {
				t.Errorf("Read = %+v, want %+v", got, tt.want)
			}
		})
	}

	// MaxLag starts a new period at each Read; unscheduled sends count
	// without a due figure.
	var m Meter
	m.sentLate(0)
	m.sentLate(300 * time.Millisecond)
	m.sentLate(100 * time.Millisecond)
	if got, want := m.Read(began), (MeterReading{Sent: 3, MaxLag: 300 * time.Millisecond}); got != want {
		t.Errorf("Read = %+v, want %+v", got, want)
	}
	if got, want := m.Read(began), (MeterReading{Sent: 3}); got != want {
		t.Errorf("second Read = %+v, want %+v", got, want)
	}
	var nilMeter *Meter // generators call a nil meter's methods
	nilMeter.start(began, interval)
	nilMeter.pace(0, 0, interval)
	nilMeter.sentLate(time.Second)
}

// TestMeterSeesSlowSink holds the results in a slow sink, with two
// workers, at a rate far beyond what they can send that way: the meter
// sees the generator fall behind while it runs, whatever the machine's
// speed.
func TestMeterSeesSlowSink(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	var meter Meter
	sink := &memSink{after: func(int) error { time.Sleep(20 * time.Millisecond); return nil }}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	sum, err := run(t, ctx, HTTPConfig{Target: srv.URL, Rate: 1000, MaxWorkers: 2, Meter: &meter}, nil, sink)
	if err != nil {
		t.Fatal(err)
	}
	r := meter.Read(time.Now())
	// 20 ms per result lets at most ~25 results in 0.5 s, a few more
	// through the two workers: far below the 500 due.
	if !r.Scheduled || r.Due < 400 || r.Sent > 100 || r.Sent+1 < uint64(sum.Requests)-2 {
		t.Errorf("meter = %+v after %d requests, want ≥400 due and few sent", r, sum.Requests)
	}
	if r.Lag < 200*time.Millisecond {
		t.Errorf("lag %v, want the generator far behind", r.Lag)
	}
}

// BenchmarkPace measures what following the schedule with a Meter adds to
// pacing one request: run with and without it.
func BenchmarkPace(b *testing.B) {
	for _, bc := range []struct {
		name  string
		meter *Meter
	}{{"unmetered", nil}, {"metered", &Meter{}}} {
		b.Run(bc.name, func(b *testing.B) {
			s := newSchedule(1e6, func() int { return 0 }, bc.meter)
			s.start(time.Now())
			b.ReportAllocs()
			var hits uint64
			for b.Loop() {
				// Behind schedule, as a saturated generator is: the
				// meter's slowest path.
				s.Pace(time.Duration(hits+2)*s.interval, hits)
				hits++
			}
		})
	}
}

// BenchmarkMeterSentLate measures one metered stream message, late.
func BenchmarkMeterSentLate(b *testing.B) {
	var m Meter
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.sentLate(time.Millisecond)
		}
	})
}

// TestMeterCountsChatMessages holds two Chat streams with a Meter: it
// counts the messages they send, which have no schedule of their own.
func TestMeterCountsChatMessages(t *testing.T) {
	app := startGRPCApp(t, "", grpcapp.Config{Version: "v1"})
	var meter Meter
	sink := &memSink{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := RunStreams(ctx, StreamConfig{Target: GRPCTarget{Address: app.Addr()}, Chat: 2, Interval: 10 * time.Millisecond, Meter: &meter}, nil, sink)
		done <- err
	}()
	polltest.Eventually(t, "both streams to open", func() bool { return sink.count(rundir.KindStreamOpen, nil) == 2 })
	polltest.Eventually(t, "a few messages to be sent", func() bool { return meter.sent.Load() >= 6 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r := meter.Read(time.Now())
	if r.Scheduled || r.Due != 0 || r.Sent < 6 {
		t.Errorf("meter %+v, want unscheduled with at least 6 sent", r)
	}
}
