package rundir

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestObservationKinds(t *testing.T) {
	stream := &StreamEvent{ID: "subscribe-00001", Method: "subscribe", Call: 1}
	tests := []struct {
		name               string
		o                  Observation
		ok, request, isStr bool
	}{
		{"http 200", Observation{Kind: KindHTTP, Status: 200}, true, true, false},
		{"http without a kind", Observation{Status: 503}, false, true, false},
		{"grpc OK", Observation{Kind: KindGRPCUnary, GRPCCode: "OK"}, true, true, false},
		{"grpc failed", Observation{Kind: KindGRPCUnary, GRPCCode: "UNAVAILABLE", Error: "reset"}, false, true, false},
		{"grpc without a code", Observation{Kind: KindGRPCUnary}, false, true, false},
		{"stream open", Observation{Kind: KindStreamOpen, Stream: stream}, true, false, true},
		{"stream break", Observation{Kind: KindStreamBreak, Stream: stream, GRPCCode: "UNAVAILABLE"}, false, false, true},
		{"stream gap", Observation{Kind: KindStreamGap, Stream: stream}, false, false, true},
		{"stream kind without its object", Observation{Kind: KindStreamResume}, true, false, true},
		{"a future kind", Observation{Kind: "quic-datagram", Status: 200}, true, false, false},
	}
	for _, tt := range tests {
		if ok, req, str := tt.o.OK(), tt.o.IsRequest(), tt.o.IsStream(); ok != tt.ok || req != tt.request || str != tt.isStr {
			t.Errorf("%s: OK %v IsRequest %v IsStream %v, want %v %v %v", tt.name, ok, req, str, tt.ok, tt.request, tt.isStr)
		}
	}
}

func TestStreamEventJSON(t *testing.T) {
	o := Observation{
		Kind: KindStreamResume, Seq: 431, Scheduled: t0, Sent: t0, Step: 1, Version: "v2", Task: "77b1e0",
		Stream: &StreamEvent{ID: "subscribe-00001", Method: "subscribe", Call: 3, LastSeq: 304,
			Reconnect: 1400 * time.Millisecond, Retries: 1, FromVersion: "v1", FromTask: "3f2a9c", ResumeSeq: 305},
	}
	data, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	want := `"stream":{"id":"subscribe-00001","method":"subscribe","call":3,"lastSeq":304,"reconnectNs":1400000000,"retries":1,"fromVersion":"v1","fromTask":"3f2a9c","resumeSeq":305}`
	if !strings.Contains(string(data), want) || strings.Contains(string(data), "grpcCode") {
		t.Errorf("JSON %s, want it to hold %s and no grpcCode", data, want)
	}
	var back Observation
	if err := json.Unmarshal(data, &back); err != nil || *back.Stream != *o.Stream {
		t.Errorf("round trip: %+v, %v", back.Stream, err)
	}
	// An HTTP record is unchanged: no stream object, no gRPC code.
	data, _ = json.Marshal(testObservation(1))
	if strings.Contains(string(data), "stream") || strings.Contains(string(data), "grpcCode") {
		t.Errorf("HTTP record %s carries gRPC fields", data)
	}
}
