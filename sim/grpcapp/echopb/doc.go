// Package echopb is the generated Go code of echo.proto, the API of the
// sample gRPC service (sim/grpcapp): messages and the Echo client and
// server.
//
// The files echo.pb.go and echo_grpc.pb.go are generated and committed.
// Regenerate them with protoc 3.21 or later and the plugins
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
//
// (protoc-gen-go matches the module's google.golang.org/protobuf version;
// the generated gRPC code needs google.golang.org/grpc v1.64 or later).
package echopb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative echo.proto
