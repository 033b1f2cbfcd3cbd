package loadgen

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/meshsim/meshsim/sim/grpcapp"
	"github.com/meshsim/meshsim/sim/grpcapp/echopb"
)

// TestGRPCCall: the user's gRPC traffic names a method and a JSON request,
// encoded through the server's reflection service or a given protoset, and
// the load calls it.
func TestGRPCCall(t *testing.T) {
	app := startGRPCApp(t, "", grpcapp.Config{Version: "2.0", TaskID: "task-u"})
	conn, err := GRPCTarget{Address: app.Addr()}.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// What protoc --descriptor_set_out --include_imports writes.
	var files []*descriptorpb.FileDescriptorProto
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		for i := range fd.Imports().Len() {
			add(fd.Imports().Get(i).FileDescriptor)
		}
		files = append(files, protodesc.ToFileDescriptorProto(fd))
	}
	add(echopb.File_echo_proto)
	set, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: files})
	if err != nil {
		t.Fatal(err)
	}
	method := grpcapp.ServiceName + "/Echo"
	for name, protoset := range map[string][]byte{"reflection": nil, "protoset": set} {
		t.Run(name, func(t *testing.T) {
			call, err := NewGRPCCall(context.Background(), conn, method, []byte(`{"name": "alice"}`), protoset)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := call.invoke(context.Background(), conn)
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.ProtoReflect().Get(resp.ProtoReflect().Descriptor().Fields().ByName("message")).String(); !strings.Contains(got, "alice") {
				t.Errorf("response %v: want the request's name echoed", resp)
			}

			sink := &memSink{}
			sum, err := RunGRPCUnary(context.Background(), GRPCUnaryConfig{
				Target: GRPCTarget{Address: app.Addr()}, Rate: 50, Duration: 400 * time.Millisecond, Call: call,
			}, nil, sink)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Requests < 5 || sum.Successes != sum.Requests {
				t.Fatalf("summary %+v", sum)
			}
			for _, o := range sink.sorted() {
				if o.Version != "2.0" || o.Task != "task-u" {
					t.Fatalf("observation %+v: want it attributed from the metadata", o)
				}
			}
		})
	}
	for _, tt := range []struct{ method, json, want string }{
		{"nope", `{}`, "want package.Service/Method"},
		{grpcapp.ServiceName + "/Nope", `{}`, "has no method Nope"},
		{"no.such.Service/Echo", `{}`, "no.such.Service"},
		{method, `{"nom": 1}`, "request of"},
	} {
		if _, err := NewGRPCCall(context.Background(), conn, tt.method, []byte(tt.json), nil); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewGRPCCall(%q, %s) = %v, want an error mentioning %q", tt.method, tt.json, err, tt.want)
		}
	}
}
