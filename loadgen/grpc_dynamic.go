package loadgen

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// GRPCCall is a unary call of any method, its request given as JSON: the
// user's gRPC traffic. NewGRPCCall resolves it.
type GRPCCall struct {
	// path is "/package.Service/Method".
	path    string
	method  protoreflect.MethodDescriptor
	request proto.Message
}

// NewGRPCCall resolves fullMethod ("package.Service/Method") and encodes
// requestJSON (protojson) as its request. The method is described by
// protoset, a serialized FileDescriptorSet (protoc --descriptor_set_out
// --include_imports), or, when protoset is nil, by the server's reflection
// service, asked over conn.
func NewGRPCCall(ctx context.Context, conn grpc.ClientConnInterface, fullMethod string, requestJSON, protoset []byte) (*GRPCCall, error) {
	service, method, ok := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	if !ok || service == "" || method == "" {
		return nil, fmt.Errorf("loadgen: gRPC method %q: want package.Service/Method", fullMethod)
	}
	var files *protoregistry.Files
	var err error
	if protoset != nil {
		set := &descriptorpb.FileDescriptorSet{}
		if err := proto.Unmarshal(protoset, set); err != nil {
			return nil, fmt.Errorf("loadgen: protoset: %w", err)
		}
		files, err = protodesc.NewFiles(set)
	} else {
		files, err = reflectFiles(ctx, conn, service)
	}
	if err != nil {
		return nil, fmt.Errorf("loadgen: describing %s: %w", service, err)
	}
	d, err := files.FindDescriptorByName(protoreflect.FullName(service))
	if err != nil {
		return nil, fmt.Errorf("loadgen: service %s: %w", service, err)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, fmt.Errorf("loadgen: %s is not a service", service)
	}
	md := sd.Methods().ByName(protoreflect.Name(method))
	switch {
	case md == nil:
		return nil, fmt.Errorf("loadgen: service %s has no method %s", service, method)
	case md.IsStreamingClient() || md.IsStreamingServer():
		return nil, fmt.Errorf("loadgen: %s/%s streams; only unary methods are called", service, method)
	}
	req := dynamicpb.NewMessage(md.Input())
	if len(requestJSON) > 0 {
		opts := protojson.UnmarshalOptions{Resolver: dynamicpb.NewTypes(files)}
		if err := opts.Unmarshal(requestJSON, req); err != nil {
			return nil, fmt.Errorf("loadgen: request of %s/%s: %w", service, method, err)
		}
	}
	return &GRPCCall{path: "/" + service + "/" + method, method: md, request: req}, nil
}

// reflectFiles asks the server's reflection service for the file that
// defines symbol and the files it imports.
func reflectFiles(ctx context.Context, conn grpc.ClientConnInterface, symbol string) (*protoregistry.Files, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, fmt.Errorf("server reflection: %w", err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: symbol},
	}); err != nil {
		return nil, fmt.Errorf("server reflection: %w", err)
	}
	resp, err := stream.Recv()
	if err != nil {
		return nil, fmt.Errorf("server reflection: %w", err)
	}
	if e := resp.GetErrorResponse(); e != nil {
		return nil, fmt.Errorf("server reflection: %s", e.GetErrorMessage())
	}
	fds := resp.GetFileDescriptorResponse()
	if fds == nil {
		return nil, errors.New("server reflection: no file descriptors in the answer")
	}
	set := &descriptorpb.FileDescriptorSet{}
	for _, b := range fds.GetFileDescriptorProto() {
		fd := &descriptorpb.FileDescriptorProto{}
		if err := proto.Unmarshal(b, fd); err != nil {
			return nil, fmt.Errorf("server reflection: %w", err)
		}
		set.File = append(set.File, fd)
	}
	_ = stream.CloseSend()
	return protodesc.NewFiles(set)
}

// Request is the call's request message.
func (c *GRPCCall) Request() proto.Message { return c.request }

// NewResponse returns an empty response message of the call's method.
func (c *GRPCCall) NewResponse() proto.Message { return dynamicpb.NewMessage(c.method.Output()) }

// invoke makes the call on conn and returns its response.
func (c *GRPCCall) invoke(ctx context.Context, conn grpc.ClientConnInterface, opts ...grpc.CallOption) (proto.Message, error) {
	resp := dynamicpb.NewMessage(c.method.Output())
	err := conn.Invoke(ctx, c.path, c.request, resp, opts...)
	return resp, err
}
