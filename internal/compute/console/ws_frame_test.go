package console

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestFrameHeaderRoundTrip(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	tests := []struct {
		name string
		h    frameHeader
		wire []byte // the header's expected encoding
	}{
		{"small binary", frameHeader{fin: true, opcode: opBinary, length: 5}, []byte{0x82, 5}},
		{"empty close", frameHeader{fin: true, opcode: opClose}, []byte{0x88, 0}},
		{"125 bytes", frameHeader{fin: true, opcode: opBinary, length: 125}, []byte{0x82, 125}},
		{"126 bytes: 16-bit length", frameHeader{fin: true, opcode: opBinary, length: 126}, []byte{0x82, 126, 0, 126}},
		{"65535 bytes", frameHeader{fin: true, opcode: opBinary, length: 65535}, []byte{0x82, 126, 0xff, 0xff}},
		{"65536 bytes: 64-bit length", frameHeader{fin: true, opcode: opBinary, length: 65536},
			[]byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
		{"masked, not final", frameHeader{opcode: opBinary, masked: true, key: key, length: 3},
			[]byte{0x02, 0x83, 1, 2, 3, 4}},
		{"masked continuation", frameHeader{fin: true, opcode: opContinuation, masked: true, key: key, length: 0},
			[]byte{0x80, 0x80, 1, 2, 3, 4}},
		{"ping", frameHeader{fin: true, opcode: opPing, length: 4}, []byte{0x89, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wire := appendFrameHeader(nil, tt.h)
			if !bytes.Equal(wire, tt.wire) {
				t.Fatalf("encoded % x, want % x", wire, tt.wire)
			}
			got, err := readFrameHeader(bytes.NewReader(wire))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.h {
				t.Fatalf("decoded %+v, want %+v", got, tt.h)
			}
		})
	}
}

func TestReadFrameHeaderErrors(t *testing.T) {
	tests := []struct {
		name     string
		wire     []byte
		protocol bool  // a protocol error (close 1002)
		err      error // else this error
	}{
		{"clean EOF", nil, false, io.EOF},
		{"cut in 16-bit length", []byte{0x82, 126, 0}, false, io.ErrUnexpectedEOF},
		{"cut in mask key", []byte{0x82, 0x81, 1, 2}, false, io.ErrUnexpectedEOF},
		{"reserved bit", []byte{0xC2, 0}, true, nil},
		{"unknown opcode 3", []byte{0x83, 0}, true, nil},
		{"unknown control opcode 0xB", []byte{0x8B, 0}, true, nil},
		{"fragmented ping", []byte{0x09, 0}, true, nil},
		{"control frame over 125 bytes", []byte{0x89, 126, 0, 126}, true, nil},
		{"absurd 64-bit length", []byte{0x82, 127, 0x7f, 0, 0, 0, 0, 0, 0, 0}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readFrameHeader(bytes.NewReader(tt.wire))
			switch {
			case tt.protocol && !errors.Is(err, errProtocol):
				t.Fatalf("err %v, want a protocol error", err)
			case !tt.protocol && !errors.Is(err, tt.err):
				t.Fatalf("err %v, want %v", err, tt.err)
			}
		})
	}
}

func TestMaskInPieces(t *testing.T) {
	// RFC 6455 §5.7's example: "Hello" masked with 37 fa 21 3d.
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	want := []byte{0x7f, 0x9f, 0x4d, 0x51, 0x58}
	for split := 0; split <= 5; split++ {
		b := []byte("Hello")
		pos := mask(key, 0, b[:split])
		mask(key, pos, b[split:])
		if !bytes.Equal(b, want) {
			t.Fatalf("split at %d: % x, want % x", split, b, want)
		}
	}
}

func TestMaskWordwise(t *testing.T) {
	key := [4]byte{0xde, 0xad, 0xbe, 0xef}
	for _, n := range []int{15, 16, 17, 63, 1000} {
		for pos := 0; pos < 4; pos++ {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(i * 7)
			}
			mask(key, pos, b)
			for i := range b {
				if want := byte(i*7) ^ key[(pos+i)&3]; b[i] != want {
					t.Fatalf("n=%d pos=%d: byte %d is %#x, want %#x", n, pos, i, b[i], want)
				}
			}
		}
	}
}

func TestClosePayload(t *testing.T) {
	tests := []struct {
		name     string
		body     []byte
		code     int
		reason   string
		protocol bool
	}{
		{"empty is 1005", nil, closeNoStatus, "", false},
		{"normal", []byte{0x03, 0xe8}, closeNormal, "", false},
		{"with reason", append([]byte{0x03, 0xe9}, "bye"...), closeGoingAway, "bye", false},
		{"one byte", []byte{0x03}, 0, "", true},
		{"reserved 1004", []byte{0x03, 0xec}, 0, "", true},
		{"1005 may not be sent", []byte{0x03, 0xed}, 0, "", true},
		{"application 4000", []byte{0x0f, 0xa0}, 4000, "", false},
		{"out of range 5000", []byte{0x13, 0x88}, 0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, reason, err := parseClosePayload(tt.body)
			if tt.protocol {
				if !errors.Is(err, errProtocol) {
					t.Fatalf("err %v, want a protocol error", err)
				}
				return
			}
			if err != nil || code != tt.code || reason != tt.reason {
				t.Fatalf("got %d %q %v, want %d %q", code, reason, err, tt.code, tt.reason)
			}
		})
	}
	if b := closePayload(closeNormal, string(make([]byte, 200))); len(b) != maxControlPayload {
		t.Fatalf("long reason: %d bytes, want %d", len(b), maxControlPayload)
	}
}
