package sidecar

import (
	"bufio"
	"bytes"
	"net"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// The flow-control windows the relay advertises to both sides: 1 MiB per
// stream (what it may hold of one stream's data that the other side has
// no window for) and 16 MiB per connection.
const (
	relayStreamWindow = 1 << 20
	relayConnWindow   = 16 << 20
	// h2DefaultWindow is HTTP/2's initial window, before any SETTINGS.
	h2DefaultWindow = 65535
	// relayMaxHeaderList bounds a header list the relay reads (Envoy's
	// default max_request_headers_kb is 60; gRPC allows 8 KiB by default).
	relayMaxHeaderList = 1 << 20
)

// h2Conn is one HTTP/2 connection of a relay group: the client's, one to
// an upstream endpoint, or the one to the proxy's own HTTP/2 server (the
// net/http path). Its read loop alone reads it; everything else, writes
// included, happens under the group's lock. Writes are buffered and
// flushed once the frames that caused them are processed.
type h2Conn struct {
	g        *relayGroup
	c        net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	fr       *http2.Framer
	enc      *hpack.Encoder
	encBuf   bytes.Buffer
	upstream bool   // the relay is this connection's client
	addr     string // the endpoint of an upstream connection
	internal bool   // the connection to the net/http path

	// Under the group's lock.
	maxFrame   uint32 // the peer's SETTINGS_MAX_FRAME_SIZE
	initWindow int32  // the peer's SETTINGS_INITIAL_WINDOW_SIZE
	maxStreams uint32 // the peer's SETTINGS_MAX_CONCURRENT_STREAMS
	sendWindow int32  // what the peer lets the relay send on the connection
	streams    map[uint32]*relayStream
	nextID     uint32 // the next stream id of an upstream connection
	goingAway  bool   // the peer sent GOAWAY: no new streams
	dirty      bool   // frames written and not flushed
	closed     bool
	// waiting are the streams an upstream connection still being
	// dialled will carry.
	waiting []*relayStream
	dialing bool
	// stalled are the streams with data waiting for the connection's
	// window.
	stalled []*relayStream
}

func newH2Conn(g *relayGroup, c net.Conn, upstream bool) *h2Conn {
	h := &h2Conn{g: g, upstream: upstream}
	h.init(c)
	return h
}

// init sets h up on connection c, in HTTP/2's initial state.
func (h *h2Conn) init(c net.Conn) {
	h.c = c
	h.br = bufio.NewReaderSize(c, 16<<10)
	h.bw = bufio.NewWriterSize(c, 16<<10)
	h.maxFrame, h.initWindow, h.sendWindow = 16384, h2DefaultWindow, h2DefaultWindow
	h.maxStreams = maxConcurrentStreams
	h.streams = make(map[uint32]*relayStream)
	h.nextID = 1
	h.fr = http2.NewFramer(h.bw, h.br)
	h.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	h.fr.MaxHeaderListSize = relayMaxHeaderList
	h.enc = hpack.NewEncoder(&h.encBuf)
}

// start writes what opens the connection from the relay's side: the
// client preface for an upstream connection, then the relay's settings
// and its connection window.
func (h *h2Conn) start() {
	if h.upstream {
		h.bw.WriteString(http2.ClientPreface)
	}
	settings := []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: relayStreamWindow}}
	if h.upstream {
		settings = append(settings, http2.Setting{ID: http2.SettingEnablePush, Val: 0})
	} else {
		settings = append(settings, http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: maxConcurrentStreams})
	}
	h.fr.WriteSettings(settings...)
	h.fr.WriteWindowUpdate(0, relayConnWindow-h2DefaultWindow)
	h.markDirty()
}

func (h *h2Conn) markDirty() {
	if !h.dirty {
		h.dirty = true
		h.g.dirty = append(h.g.dirty, h)
	}
}

// flush writes out what is buffered; a connection that fails to take it
// is closed, which ends its read loop.
func (h *h2Conn) flush() {
	h.dirty = false
	if h.closed {
		return
	}
	if err := h.bw.Flush(); err != nil {
		h.c.Close()
	}
}

// writeHeaders encodes fields as one header block on stream id, split
// into CONTINUATION frames to the peer's frame size.
func (h *h2Conn) writeHeaders(id uint32, fields []hpack.HeaderField, end bool) {
	h.encBuf.Reset()
	for _, f := range fields {
		_ = h.enc.WriteField(f) // writes to a bytes.Buffer
	}
	block := h.encBuf.Bytes()
	max := int(h.maxFrame)
	first := block
	if len(first) > max {
		first = block[:max]
	}
	block = block[len(first):]
	_ = h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first, EndStream: end, EndHeaders: len(block) == 0})
	for len(block) > 0 {
		n := min(len(block), max)
		_ = h.fr.WriteContinuation(id, n == len(block), block[:n])
		block = block[n:]
	}
	h.markDirty()
}

func (h *h2Conn) writeRST(id uint32, code http2.ErrCode) {
	_ = h.fr.WriteRSTStream(id, code)
	h.markDirty()
}

func (h *h2Conn) writeWindowUpdate(id uint32, n uint32) {
	if n > 0 {
		_ = h.fr.WriteWindowUpdate(id, n)
		h.markDirty()
	}
}

// applySettings takes the peer's settings, adjusting the send windows
// of its open streams by the change of its initial window.
func (h *h2Conn) applySettings(f *http2.SettingsFrame) error {
	return f.ForeachSetting(func(s http2.Setting) error {
		switch s.ID {
		case http2.SettingMaxFrameSize:
			h.maxFrame = s.Val
		case http2.SettingMaxConcurrentStreams:
			h.maxStreams = s.Val
		case http2.SettingHeaderTableSize:
			h.enc.SetMaxDynamicTableSizeLimit(s.Val)
		case http2.SettingInitialWindowSize:
			delta := int32(s.Val) - h.initWindow
			h.initWindow = int32(s.Val)
			for _, st := range h.streams {
				st.side(h).send += delta
				st.flushPending(h)
			}
		}
		return nil
	})
}
