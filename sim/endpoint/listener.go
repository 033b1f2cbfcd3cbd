package endpoint

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
)

// Listener wraps ln so that the errors net/http answers by itself, before
// any handler sees the request, reach the client in AWS's error shape (the
// code in X-Amzn-Errortype and "__type", a JSON body with "message") rather
// than as plain text: a request line whose path does not parse (a "%ZZ"
// escape), headers too large, a transfer coding it does not know.
//
// net/http writes each such answer with one write of a fixed form straight
// to the connection and then closes it; the wrapped connection recognises
// that form and rewrites it. Answers from handlers are never of that form.
func Listener(ln net.Listener) net.Listener { return awsErrorListener{ln} }

type awsErrorListener struct{ net.Listener }

func (l awsErrorListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return awsErrorConn{c}, nil
}

type awsErrorConn struct{ net.Conn }

// plainTextError is what follows the status line of every answer net/http
// writes by itself (server.go, conn.serve).
const plainTextError = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c awsErrorConn) Write(p []byte) (int, error) {
	if r, ok := rewriteServerError(p); ok {
		if _, err := c.Conn.Write(r); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// rewriteServerError turns net/http's own plain-text answer p into an
// AWS-shaped one; ok is false when p is anything else.
func rewriteServerError(p []byte) (out []byte, ok bool) {
	rest, found := bytes.CutPrefix(p, []byte("HTTP/1.1 "))
	if !found || len(rest) < 4 {
		return nil, false
	}
	line, body, found := bytes.Cut(rest, []byte(plainTextError))
	if !found || bytes.Contains(line, []byte("\r\n")) {
		return nil, false
	}
	status, err := strconv.Atoi(string(line[:3]))
	if err != nil || status < 400 {
		return nil, false
	}
	code := "BadRequestException"
	switch status {
	case http.StatusRequestHeaderFieldsTooLarge:
		code = "RequestHeaderFieldsTooLargeException"
	case http.StatusNotImplemented:
		code = "NotImplementedException"
	}
	msg, _ := json.Marshal(map[string]string{"__type": code, "message": "malformed HTTP request: " + string(body)})
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\n")
	b.WriteString("Content-Type: application/json\r\n")
	b.WriteString("X-Amzn-Errortype: " + code + "\r\n")
	b.WriteString("Content-Length: " + strconv.Itoa(len(msg)) + "\r\n")
	b.WriteString("Connection: close\r\n\r\n")
	b.Write(msg)
	return b.Bytes(), true
}
