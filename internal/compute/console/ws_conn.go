package console

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"unicode/utf8"
)

// wsConn is an established websocket seen as a byte stream, which is what VNC over
// websockify is: Read returns the payloads of binary messages back to back (message
// boundaries mean nothing to RFB), answering pings and the close handshake on the way;
// Write sends each call as one binary frame. One goroutine may Read while others Write.
type wsConn struct {
	conn   net.Conn
	br     *bufio.Reader
	client bool // a client masks what it sends and expects unmasked frames (tests, bench)

	// Reader state, touched only by the reading goroutine.
	remaining  int64   // payload bytes left in the current data frame
	key        [4]byte // its masking key, when masked
	masked     bool
	pos        int  // offset into the frame payload, for unmasking
	fragmented bool // inside a message whose final frame has not come
	peerClose  int  // the code of the peer's close frame, once received

	wmu       sync.Mutex // one frame on the wire at a time
	wbuf      []byte
	closeSent bool
}

func newWSConn(conn net.Conn, br *bufio.Reader, client bool) *wsConn {
	if br == nil {
		br = bufio.NewReader(conn)
	}
	return &wsConn{conn: conn, br: br, client: client}
}

// Read implements io.Reader over the payloads of data frames. After the peer's close
// frame it returns io.EOF (having echoed the close, as §5.5.1 asks).
func (c *wsConn) Read(p []byte) (int, error) {
	for c.remaining == 0 {
		if err := c.nextFrame(); err != nil {
			return 0, err
		}
	}
	if int64(len(p)) > c.remaining {
		p = p[:c.remaining]
	}
	n, err := c.br.Read(p)
	if c.masked {
		c.pos = mask(c.key, c.pos, p[:n])
	}
	c.remaining -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF // cut inside a frame
	}
	return n, err
}

// nextFrame reads frame headers until a data frame with payload begins, handling
// control frames on the way.
func (c *wsConn) nextFrame() error {
	h, err := readFrameHeader(c.br)
	if err != nil {
		return c.fail(err)
	}
	// A server must get masked frames and a client unmasked ones (§5.1).
	if h.masked == c.client {
		return c.fail(fmt.Errorf("%w: masked=%v from the peer", errProtocol, h.masked))
	}
	if isControl(h.opcode) {
		return c.control(h)
	}
	switch {
	case h.opcode == opContinuation && !c.fragmented:
		return c.fail(fmt.Errorf("%w: continuation outside a message", errProtocol))
	case h.opcode != opContinuation && c.fragmented:
		return c.fail(fmt.Errorf("%w: new message inside a fragmented one", errProtocol))
	case h.opcode == opText:
		// noVNC speaks binary only; text was websockify's old base64 mode, which
		// upstream dropped too.
		c.writeClose(closeUnsupportedData, "binary frames only")
		return fmt.Errorf("websocket: text message refused")
	}
	c.fragmented = !h.fin
	c.remaining, c.key, c.masked, c.pos = h.length, h.key, h.masked, 0
	return nil
}

// control handles a ping, pong or close frame.
func (c *wsConn) control(h frameHeader) error {
	payload := make([]byte, h.length)
	if _, err := io.ReadFull(c.br, payload); err != nil {
		return noEOF(err)
	}
	if h.masked {
		mask(h.key, 0, payload)
	}
	switch h.opcode {
	case opPing:
		if err := c.writeFrame(opPong, payload); err != nil {
			return fmt.Errorf("websocket pong: %w", err)
		}
	case opPong: // unsolicited pongs are allowed and ignored (§5.5.3)
	case opClose:
		code, reason, err := parseClosePayload(payload)
		if err == nil && !utf8.ValidString(reason) {
			err = fmt.Errorf("%w: close reason not UTF-8", errProtocol)
		}
		if err != nil {
			return c.fail(err)
		}
		// Echo the code, completing the close handshake (§5.5.1).
		echo := code
		if echo == closeNoStatus {
			echo = closeNormal
		}
		c.writeClose(echo, "")
		c.peerClose = code
		return io.EOF
	}
	return nil
}

// fail sends the close frame matching err (1002 for protocol errors) and returns err.
func (c *wsConn) fail(err error) error {
	if errors.Is(err, errProtocol) {
		c.writeClose(closeProtocolError, "protocol error")
	}
	return err
}

// Write sends p as one binary frame.
func (c *wsConn) Write(p []byte) (int, error) {
	if err := c.writeFrame(opBinary, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// writeFrame sends one final frame; header and payload go out in one write, so small
// RFB messages are one TCP segment.
func (c *wsConn) writeFrame(opcode byte, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return net.ErrClosed
	}
	h := frameHeader{fin: true, opcode: opcode, length: int64(len(payload)), masked: c.client}
	if c.client {
		if _, err := rand.Read(h.key[:]); err != nil {
			return fmt.Errorf("websocket mask key: %w", err)
		}
	}
	b := appendFrameHeader(c.wbuf[:0], h)
	start := len(b)
	b = append(b, payload...)
	if c.client {
		mask(h.key, 0, b[start:])
	}
	c.wbuf = b
	if opcode == opClose {
		c.closeSent = true
	}
	if _, err := c.conn.Write(b); err != nil {
		return fmt.Errorf("websocket write: %w", err)
	}
	return nil
}

// writeClose sends a close frame once; later calls and write errors are ignored since
// the connection is going away anyway.
func (c *wsConn) writeClose(code int, reason string) {
	_ = c.writeFrame(opClose, closePayload(code, reason))
}

// Close sends a normal close frame if none went out yet and closes the connection.
func (c *wsConn) Close() error {
	c.writeClose(closeNormal, "")
	return c.conn.Close()
}
