package console

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Websocket opcodes (RFC 6455 §5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// Close codes (RFC 6455 §7.4.1) the proxy sends.
const (
	closeNormal          = 1000
	closeGoingAway       = 1001
	closeProtocolError   = 1002
	closeUnsupportedData = 1003
	closeNoStatus        = 1005 // never sent: "the peer gave no code"
)

// maxControlPayload is RFC 6455 §5.5's limit on control frame payloads.
const maxControlPayload = 125

// maxFramePayload bounds one data frame. The relay streams payloads without buffering,
// so this only rejects absurd lengths (a 63-bit length field) early.
const maxFramePayload = 1 << 30

// errProtocol marks a peer breaking RFC 6455; the connection closes with 1002.
var errProtocol = errors.New("websocket protocol error")

// frameHeader is one frame's header (RFC 6455 §5.2).
type frameHeader struct {
	fin    bool
	rsv    byte // the three RSV bits, as bits 6..4 of the first byte
	opcode byte
	masked bool
	key    [4]byte
	length int64
}

func isControl(opcode byte) bool { return opcode&0x8 != 0 }

// readFrameHeader reads and validates a frame header. It checks what holds for any
// peer (reserved bits, opcodes, control frame rules); who must mask is the caller's.
func readFrameHeader(r io.Reader) (frameHeader, error) {
	var b [8]byte
	if _, err := io.ReadFull(r, b[:2]); err != nil {
		return frameHeader{}, err
	}
	h := frameHeader{
		fin:    b[0]&0x80 != 0,
		rsv:    b[0] & 0x70,
		opcode: b[0] & 0x0F,
		masked: b[1]&0x80 != 0,
	}
	switch n := b[1] & 0x7F; n {
	case 126:
		if _, err := io.ReadFull(r, b[:2]); err != nil {
			return h, noEOF(err)
		}
		h.length = int64(binary.BigEndian.Uint16(b[:2]))
	case 127:
		if _, err := io.ReadFull(r, b[:8]); err != nil {
			return h, noEOF(err)
		}
		l := binary.BigEndian.Uint64(b[:8])
		if l > maxFramePayload {
			return h, fmt.Errorf("%w: frame length %d over %d", errProtocol, l, maxFramePayload)
		}
		h.length = int64(l)
	default:
		h.length = int64(n)
	}
	if h.masked {
		if _, err := io.ReadFull(r, h.key[:]); err != nil {
			return h, noEOF(err)
		}
	}
	// No extension is negotiated, so any reserved bit is an error (§5.2).
	if h.rsv != 0 {
		return h, fmt.Errorf("%w: reserved bits %#x set", errProtocol, h.rsv)
	}
	switch h.opcode {
	case opContinuation, opText, opBinary, opClose, opPing, opPong:
	default:
		return h, fmt.Errorf("%w: unknown opcode %#x", errProtocol, h.opcode)
	}
	if isControl(h.opcode) {
		if !h.fin {
			return h, fmt.Errorf("%w: fragmented control frame", errProtocol)
		}
		if h.length > maxControlPayload {
			return h, fmt.Errorf("%w: control frame of %d bytes", errProtocol, h.length)
		}
	}
	return h, nil
}

// noEOF turns an EOF inside a header into ErrUnexpectedEOF: only a clean cut between
// frames is an EOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// appendFrameHeader appends h's wire form to b.
func appendFrameHeader(b []byte, h frameHeader) []byte {
	b0 := h.rsv | h.opcode
	if h.fin {
		b0 |= 0x80
	}
	var m byte
	if h.masked {
		m = 0x80
	}
	switch {
	case h.length <= 125:
		b = append(b, b0, m|byte(h.length))
	case h.length <= 0xFFFF:
		b = append(b, b0, m|126)
		b = binary.BigEndian.AppendUint16(b, uint16(h.length))
	default:
		b = append(b, b0, m|127)
		b = binary.BigEndian.AppendUint64(b, uint64(h.length))
	}
	if h.masked {
		b = append(b, h.key[:]...)
	}
	return b
}

// mask XORs b in place with key, b starting at offset pos of the payload, and returns
// the offset after b, so a payload can be (un)masked in pieces as it streams. Eight
// bytes at a time: every byte a browser sends passes here, and byte-wise it was the
// upload path's bottleneck.
func mask(key [4]byte, pos int, b []byte) int {
	i := 0
	if len(b) >= 16 {
		var kb [8]byte
		for j := range kb {
			kb[j] = key[(pos+j)&3]
		}
		k := binary.LittleEndian.Uint64(kb[:])
		// Steps of 8 keep the key's phase, so kb stays aligned with b[i:].
		for ; i+8 <= len(b); i += 8 {
			binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^k)
		}
	}
	for ; i < len(b); i++ {
		b[i] ^= key[(pos+i)&3]
	}
	return pos + len(b)
}

// closePayload is a close frame's body: the code, then a UTF-8 reason (§5.5.1).
func closePayload(code int, reason string) []byte {
	if code == closeNoStatus {
		return nil
	}
	if len(reason) > maxControlPayload-2 {
		reason = reason[:maxControlPayload-2]
	}
	b := binary.BigEndian.AppendUint16(nil, uint16(code))
	return append(b, reason...)
}

// parseClosePayload returns the code and reason of a received close frame; an empty
// body is 1005 (§7.1.5).
func parseClosePayload(b []byte) (code int, reason string, err error) {
	switch {
	case len(b) == 0:
		return closeNoStatus, "", nil
	case len(b) == 1:
		return 0, "", fmt.Errorf("%w: close frame of 1 byte", errProtocol)
	}
	code = int(binary.BigEndian.Uint16(b))
	if !validCloseCode(code) {
		return code, "", fmt.Errorf("%w: close code %d", errProtocol, code)
	}
	return code, string(b[2:]), nil
}

// validCloseCode is §7.4's set of codes a peer may send.
func validCloseCode(c int) bool {
	switch {
	case c >= 1000 && c <= 1003, c >= 1007 && c <= 1011:
		return true
	case c >= 3000 && c <= 4999:
		return true
	}
	return false
}
