package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshsim/meshsim/sim/sidecar/sidecarbench"
)

// The targets of issue 12 that the gRPC section judges.
const (
	targetGRPCOpen   = "gRPC opening 10,000 streams ≤ 2× direct"
	targetGRPCMemory = "gRPC sidecar memory ≤ 40 KB per held stream"
)

// viaHAProxy is bench-grpc's anchor: haproxy as an HTTP/2 proxy in front
// of the same backend.
const viaHAProxy sidecarbench.Via = "haproxy"

// grpcMeasure is what meshsim bench-grpc measured: streams held open
// via the sidecar, haproxy or directly.
type grpcMeasure struct {
	Via                 sidecarbench.Via `json:"via"`
	Open                time.Duration    `json:"openNs"`
	BytesPerStream      float64          `json:"bytesPerStream"`
	GoroutinesPerStream float64          `json:"goroutinesPerStream"`
}

// benchGRPCCmd holds gRPC streams open via the sidecar or directly and
// prints the figures as one JSON grpcMeasure: a measurement of meshsim
// bench's gRPC section, in a process of its own so that the memory it
// measures is the streams' alone, with nothing left over from an earlier
// measurement. Both ways start the same world (the sample gRPC service, a
// control plane, a sidecar, a client of each way).
func benchGRPCCmd() *cobra.Command {
	var streams int
	var via string
	cmd := &cobra.Command{
		Use:    "bench-grpc",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := sidecarbench.Via(via)
			if streams < 1 || (v != sidecarbench.Direct && v != sidecarbench.ThroughSidecar && v != viaHAProxy) {
				return &exitError{exitBadInput, errors.New("--streams must be positive and --via direct, sidecar or haproxy")}
			}
			return holdGRPCStreams(cmd.Context(), cmd.OutOrStdout(), v, streams)
		},
	}
	cmd.Flags().IntVar(&streams, "streams", 10_000, "streams held open")
	cmd.Flags().StringVar(&via, "via", string(sidecarbench.ThroughSidecar), "direct, sidecar or haproxy")
	return cmd
}

func holdGRPCStreams(ctx context.Context, out io.Writer, via sidecarbench.Via, streams int) error {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	g, err := sidecarbench.StartGRPC(sctx)
	cancel()
	if err != nil {
		return err
	}
	defer g.Close()
	c := g.Client(via)
	if via == viaHAProxy {
		addr, err := freeAddrs(1)
		if err != nil {
			return err
		}
		_, stop, err := startHAProxy(ctx, addr[0], []string{g.BackendAddr()}, true)
		if err != nil {
			return err
		}
		defer stop()
		if c, err = g.ClientThrough(ctx, via, addr[0]); err != nil {
			return err
		}
	}
	s, err := sidecarbench.HoldStreams(ctx, c, sidecarbench.Bidi, streams)
	if err != nil {
		return fmt.Errorf("%s: %w", via, err)
	}
	return json.NewEncoder(out).Encode(grpcMeasure{Via: via, Open: s.Open, BytesPerStream: s.BytesPerStream(), GoroutinesPerStream: s.GoroutinesPerStream()})
}

func (b *benchRun) grpc(ctx context.Context) error {
	out, f := b.out, b.f
	fmt.Fprintf(out, "## gRPC: %d bidi streams held through the sidecar, through haproxy (HTTP/2 both sides) and direct (each in a process of its own)\n", f.streams)
	vias := []sidecarbench.Via{sidecarbench.Direct, sidecarbench.ThroughSidecar}
	if _, err := exec.LookPath("haproxy"); err == nil {
		vias = []sidecarbench.Via{sidecarbench.Direct, viaHAProxy, sidecarbench.ThroughSidecar}
	} else {
		fmt.Fprintln(out, "note: haproxy not found (apt-get install haproxy): no anchor, the sidecar against direct only")
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\tvia\topen\tKB/stream\tgoroutines/stream\t")
	var openRatio, share, anchorRatio, vsAnchor []float64
	for r := 1; r <= f.rounds; r++ {
		res := map[sidecarbench.Via]grpcMeasure{}
		for _, via := range vias {
			m, err := runBenchGRPC(ctx, via, f.streams)
			if err != nil {
				return err
			}
			res[via] = m
			fmt.Fprintf(tw, "%d\t%s\t%s\t%.1f\t%.1f\t\n", r, via, m.Open.Round(time.Millisecond), m.BytesPerStream/1000, m.GoroutinesPerStream)
		}
		d, s := res[sidecarbench.Direct], res[sidecarbench.ThroughSidecar]
		if d.Open > 0 {
			openRatio = append(openRatio, float64(s.Open)/float64(d.Open))
			share = append(share, s.BytesPerStream-d.BytesPerStream)
		}
		if h, ok := res[viaHAProxy]; ok && h.Open > 0 && d.Open > 0 {
			anchorRatio = append(anchorRatio, float64(h.Open)/float64(d.Open))
			vsAnchor = append(vsAnchor, float64(s.Open)/float64(h.Open))
		}
	}
	tw.Flush()
	if len(openRatio) == 0 {
		return errors.New("bench: gRPC: no round measured both ways")
	}
	open, kb := median(openRatio), median(share)/1000
	fmt.Fprintf(out, "sidecar/direct, medians of %d per-round figures: open %.2f× (target ≤ 2), the sidecar's memory %.1f KB per held stream (sidecar run's − direct run's; target ≤ 40 KB; 1 KB = 1000 B)\n",
		len(openRatio), open, kb)
	anchor := ""
	if len(anchorRatio) > 0 {
		fmt.Fprintf(out, "the anchor: haproxy/direct open %.2f×; sidecar/haproxy open %.2f× (medians of %d rounds; haproxy's memory is its own process's, not counted)\n",
			median(anchorRatio), median(vsAnchor), len(anchorRatio))
		anchor = fmt.Sprintf("; haproxy %.3f×", median(anchorRatio))
	}
	fmt.Fprintln(out)
	b.judge(targetGRPCOpen, open <= 2, "%.3f×%s%s", open, anchor, atScale(f.streams, 10_000, "streams"))
	b.judge(targetGRPCMemory, kb <= 40, "%.1f KB%s", kb, atScale(f.streams, 10_000, "streams"))
	return nil
}

// runBenchGRPC runs meshsim bench-grpc --via via and reads what it
// measured.
func runBenchGRPC(ctx context.Context, via sidecarbench.Via, streams int) (grpcMeasure, error) {
	self, err := os.Executable()
	if err != nil {
		return grpcMeasure{}, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, self, "bench-grpc", "--via", string(via), "--streams", strconv.Itoa(streams))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return grpcMeasure{}, fmt.Errorf("bench: gRPC: meshsim bench-grpc --via %s: %w: %s", via, err, bytes.TrimSpace(stderr.Bytes()))
	}
	var m grpcMeasure
	if err := json.Unmarshal(stdout.Bytes(), &m); err != nil {
		return grpcMeasure{}, fmt.Errorf("bench: gRPC: reading meshsim bench-grpc's output: %w: %s", err, stdout.Bytes())
	}
	return m, nil
}
