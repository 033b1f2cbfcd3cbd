package sidecar

import "testing"

func TestEncodeGRPCMessage(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain message", "plain message"},
		{"100% done", "100%25 done"},
		{"état", "%C3%A9tat"},
		{"line\nbreak", "line%0Abreak"},
	} {
		if got := encodeGRPCMessage(tt.in); got != tt.want {
			t.Errorf("encodeGRPCMessage(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestContentSubtype(t *testing.T) {
	for ct, want := range map[string]string{
		"application/grpc":         "",
		"application/grpc+proto":   "proto",
		"application/grpc+JSON":    "json",
		"application/grpc;charset": "charset",
		"application/grpc-web":     "",
	} {
		if got := contentSubtype(ct); got != want {
			t.Errorf("contentSubtype(%q) = %q, want %q", ct, got, want)
		}
	}
}
