package sidecar_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// rawH2 is an HTTP/2 client that writes and reads frames itself, to see
// what the sidecar's relay answers to what a well-behaved client never
// sends.
type rawH2 struct {
	t  *testing.T
	c  net.Conn
	fr *http2.Framer
}

func dialRawH2(t *testing.T, addr string) *rawH2 {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	r := &rawH2{t: t, c: c, fr: http2.NewFramer(c, c)}
	r.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if err := r.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return r
}

// next returns the next frame that is not SETTINGS, a SETTINGS ACK or a
// WINDOW_UPDATE, or the read's error.
func (r *rawH2) next() (http2.Frame, error) {
	for {
		f, err := r.fr.ReadFrame()
		if err != nil {
			return nil, err
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = r.fr.WriteSettingsAck()
			}
			continue
		case *http2.WindowUpdateFrame:
			continue
		}
		return f, nil
	}
}

// headers writes a gRPC request's headers on stream id.
func (r *rawH2) headers(id uint32) error {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, f := range [][2]string{
		{":method", "POST"}, {":scheme", "http"}, {":authority", echoAuthority},
		{":path", "/" + testService + "/UnaryCall"}, {"content-type", "application/grpc"}, {"te", "trailers"},
	} {
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	return r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: buf.Bytes(), EndHeaders: true})
}

// TestRelayProtocol checks what the relay answers at the frame level:
// PINGs are acknowledged, a stream id a client may not use is reset, a
// connection-level protocol error gets GOAWAY with its code, and closing
// the proxy sends GOAWAY to a client with nothing open.
func TestRelayProtocol(t *testing.T) {
	b := startEchoBackend(t, "v1", "task-a")
	_, p, _, _ := startEcho(t, echoWorld(endpoints(b), nil, 100, 0))

	t.Run("ping", func(t *testing.T) {
		r := dialRawH2(t, p.EgressAddr())
		data := [8]byte{'m', 'e', 's', 'h', 's', 'i', 'm', '!'}
		if err := r.fr.WritePing(false, data); err != nil {
			t.Fatal(err)
		}
		f, err := r.next()
		if ping, ok := f.(*http2.PingFrame); err != nil || !ok || !ping.IsAck() || ping.Data != data {
			t.Fatalf("after a PING: %v %v, want its ACK", f, err)
		}
	})

	t.Run("even stream id", func(t *testing.T) {
		r := dialRawH2(t, p.EgressAddr())
		if err := r.headers(2); err != nil { // client streams are odd
			t.Fatal(err)
		}
		f, err := r.next()
		if rst, ok := f.(*http2.RSTStreamFrame); err != nil || !ok || rst.StreamID != 2 || rst.ErrCode != http2.ErrCodeProtocol {
			t.Fatalf("after HEADERS on stream 2: %v %v, want RST_STREAM PROTOCOL_ERROR", f, err)
		}
	})

	t.Run("protocol error", func(t *testing.T) {
		r := dialRawH2(t, p.EgressAddr())
		r.fr.AllowIllegalWrites = true
		if err := r.fr.WriteData(0, false, []byte("no stream")); err != nil { // DATA must have a stream
			t.Fatal(err)
		}
		f, err := r.next()
		if ga, ok := f.(*http2.GoAwayFrame); err != nil || !ok || ga.ErrCode != http2.ErrCodeProtocol {
			t.Fatalf("after DATA on stream 0: %v %v, want GOAWAY PROTOCOL_ERROR", f, err)
		}
		if _, err := r.next(); !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
			var ne net.Error
			if !errors.As(err, &ne) || ne.Timeout() {
				t.Errorf("after GOAWAY: %v, want the connection closed", err)
			}
		}
	})

	t.Run("drain", func(t *testing.T) {
		r := dialRawH2(t, p.EgressAddr())
		if err := r.fr.WritePing(false, [8]byte{}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.next(); err != nil { // the ACK: the relay serves the connection
			t.Fatal(err)
		}
		go p.Close()
		f, err := r.next()
		if ga, ok := f.(*http2.GoAwayFrame); err != nil || !ok || ga.ErrCode != http2.ErrCodeNo {
			t.Fatalf("while the proxy closes: %v %v, want GOAWAY NO_ERROR", f, err)
		}
		// A stream opened after GOAWAY is refused, unless the connection,
		// with nothing open, is already gone.
		if err := r.headers(1); err != nil {
			return
		}
		if f, err := r.next(); err == nil {
			if rst, ok := f.(*http2.RSTStreamFrame); !ok || rst.ErrCode != http2.ErrCodeRefusedStream {
				t.Errorf("a stream opened after GOAWAY: %v, want REFUSED_STREAM", f)
			}
		}
	})
}
