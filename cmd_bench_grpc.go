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

// grpcRound is one measurement of meshsim bench-grpc: streams held open
// via the sidecar or directly, in one round.
type grpcRound struct {
	Round               int              `json:"round"`
	Via                 sidecarbench.Via `json:"via"`
	Open                time.Duration    `json:"openNs"`
	BytesPerStream      float64          `json:"bytesPerStream"`
	GoroutinesPerStream float64          `json:"goroutinesPerStream"`
}

// benchGRPCCmd holds gRPC streams open directly and through a sidecar, in
// rounds, and prints one JSON grpcRound per line: meshsim bench's gRPC
// section, in a process of its own so that the memory it measures is the
// streams' alone.
func benchGRPCCmd() *cobra.Command {
	var streams, rounds int
	cmd := &cobra.Command{
		Use:    "bench-grpc",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if streams < 1 || rounds < 1 {
				return &exitError{exitBadInput, errors.New("--streams and --rounds must be positive")}
			}
			return holdGRPCStreams(cmd.Context(), cmd.OutOrStdout(), streams, rounds)
		},
	}
	cmd.Flags().IntVar(&streams, "streams", 10_000, "streams held open")
	cmd.Flags().IntVar(&rounds, "rounds", 3, "rounds of direct and sidecar")
	return cmd
}

func holdGRPCStreams(ctx context.Context, out io.Writer, streams, rounds int) error {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	g, err := sidecarbench.StartGRPC(sctx)
	cancel()
	if err != nil {
		return err
	}
	defer g.Close()
	enc := json.NewEncoder(out)
	for r := 1; r <= rounds; r++ {
		for _, via := range []sidecarbench.Via{sidecarbench.Direct, sidecarbench.ThroughSidecar} {
			s, err := sidecarbench.HoldStreams(ctx, g.Client(via), sidecarbench.Bidi, streams)
			if err != nil {
				return fmt.Errorf("%s: %w", via, err)
			}
			if err := enc.Encode(grpcRound{Round: r, Via: via, Open: s.Open, BytesPerStream: s.BytesPerStream(), GoroutinesPerStream: s.GoroutinesPerStream()}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *benchRun) grpc(ctx context.Context) error {
	out, f := b.out, b.f
	fmt.Fprintf(out, "## gRPC: %d bidi streams held through the sidecar vs direct (a process of their own)\n", f.streams)
	rounds, err := runBenchGRPC(ctx, f)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\tvia\topen\tKB/stream\tgoroutines/stream\t")
	var openRatio, share []float64
	direct := map[int]grpcRound{}
	for _, r := range rounds {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.1f\t%.1f\t\n", r.Round, r.Via, r.Open.Round(time.Millisecond), r.BytesPerStream/1000, r.GoroutinesPerStream)
		switch d, ok := direct[r.Round]; {
		case r.Via == sidecarbench.Direct:
			direct[r.Round] = r
		case ok && d.Open > 0:
			openRatio = append(openRatio, float64(r.Open)/float64(d.Open))
			share = append(share, r.BytesPerStream-d.BytesPerStream)
		}
	}
	tw.Flush()
	if len(openRatio) == 0 {
		return errors.New("bench: gRPC: no round measured both ways")
	}
	open, kb := median(openRatio), median(share)/1000
	fmt.Fprintf(out, "sidecar/direct, medians of %d per-round figures: open %.2f× (target ≤ 2), the sidecar's memory %.1f KB per held stream (sidecar run's − direct run's; target ≤ 40 KB; 1 KB = 1000 B)\n\n",
		len(openRatio), open, kb)
	b.judge(targetGRPCOpen, open <= 2, "%.2f×%s", open, atScale(f.streams, 10_000, "streams"))
	b.judge(targetGRPCMemory, kb <= 40, "%.1f KB%s", kb, atScale(f.streams, 10_000, "streams"))
	return nil
}

// runBenchGRPC runs meshsim bench-grpc and reads its rounds.
func runBenchGRPC(ctx context.Context, f benchFlags) ([]grpcRound, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, self, "bench-grpc", "--streams", strconv.Itoa(f.streams), "--rounds", strconv.Itoa(f.rounds))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("bench: gRPC: meshsim bench-grpc: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	var rounds []grpcRound
	dec := json.NewDecoder(&stdout)
	for {
		var r grpcRound
		switch err := dec.Decode(&r); {
		case errors.Is(err, io.EOF):
			return rounds, nil
		case err != nil:
			return nil, fmt.Errorf("bench: gRPC: reading meshsim bench-grpc's output: %w", err)
		}
		rounds = append(rounds, r)
	}
}
