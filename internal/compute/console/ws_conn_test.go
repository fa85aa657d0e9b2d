package console

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
)

// tcpPair returns both ends of a loopback TCP connection: unlike net.Pipe its writes
// are buffered, so a pong may go out before anyone reads it.
func tcpPair(t testing.TB) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// frame encodes one frame as a client sends it (masked unless unmasked).
func frame(fin bool, opcode byte, payload string, unmasked bool) []byte {
	h := frameHeader{fin: fin, opcode: opcode, length: int64(len(payload)), masked: !unmasked, key: [4]byte{9, 8, 7, 6}}
	b := appendFrameHeader(nil, h)
	start := len(b)
	b = append(b, payload...)
	if h.masked {
		mask(h.key, 0, b[start:])
	}
	return b
}

type sentFrame struct {
	opcode  byte
	payload string
}

func closeFrame(code int) sentFrame { return sentFrame{opClose, string(closePayload(code, ""))} }

func TestWSConnRead(t *testing.T) {
	cat := func(fs ...[]byte) []byte { return bytes.Join(fs, nil) }
	closeBody := func(code int) string { return string(closePayload(code, "")) }
	tests := []struct {
		name     string
		in       []byte
		data     string      // what Read yields
		protocol bool        // Read ends with a protocol error, else io.EOF or other
		otherErr bool        // Read ends with a non-protocol, non-EOF error
		replies  []sentFrame // what the server sends back
	}{
		{
			name:    "binary then close",
			in:      cat(frame(true, opBinary, "hello", false), frame(true, opClose, closeBody(closeNormal), false)),
			data:    "hello",
			replies: []sentFrame{closeFrame(closeNormal)},
		},
		{
			name: "fragmented message with a ping between fragments",
			in: cat(frame(false, opBinary, "he", false), frame(true, opPing, "p1", false),
				frame(false, opContinuation, "l", false), frame(true, opContinuation, "lo", false),
				frame(true, opClose, "", false)),
			data:    "hello",
			replies: []sentFrame{{opPong, "p1"}, closeFrame(closeNormal)},
		},
		{
			name: "empty frames and an unsolicited pong are skipped",
			in: cat(frame(true, opBinary, "", false), frame(true, opPong, "x", false),
				frame(true, opBinary, "RFB", false), frame(true, opClose, closeBody(closeGoingAway), false)),
			data:    "RFB",
			replies: []sentFrame{closeFrame(closeGoingAway)},
		},
		{
			name:     "unmasked client frame",
			in:       frame(true, opBinary, "x", true),
			protocol: true,
			replies:  []sentFrame{{opClose, string(closePayload(closeProtocolError, "protocol error"))}},
		},
		{
			name:     "continuation with no message",
			in:       frame(true, opContinuation, "x", false),
			protocol: true,
			replies:  []sentFrame{{opClose, string(closePayload(closeProtocolError, "protocol error"))}},
		},
		{
			name:     "new message inside a fragmented one",
			in:       cat(frame(false, opBinary, "a", false), frame(true, opBinary, "b", false)),
			data:     "a",
			protocol: true,
			replies:  []sentFrame{{opClose, string(closePayload(closeProtocolError, "protocol error"))}},
		},
		{
			name:     "close with a reserved code",
			in:       frame(true, opClose, closeBody(1004), false),
			protocol: true,
			replies:  []sentFrame{{opClose, string(closePayload(closeProtocolError, "protocol error"))}},
		},
		{
			name:     "text refused",
			in:       frame(true, opText, "hi", false),
			otherErr: true,
			replies:  []sentFrame{{opClose, string(closePayload(closeUnsupportedData, "binary frames only"))}},
		},
		{
			name:     "cut inside a payload",
			in:       frame(true, opBinary, "hello", false)[:7], // header, key, one byte,
			data:     "h",
			otherErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := tcpPair(t)
			go func() {
				client.Write(tt.in)
				client.(*net.TCPConn).CloseWrite()
			}()
			ws := newWSConn(server, nil, false)
			data, err := io.ReadAll(ws)
			if string(data) != tt.data {
				t.Errorf("read %q, want %q", data, tt.data)
			}
			switch {
			case tt.protocol:
				if !errors.Is(err, errProtocol) {
					t.Errorf("err %v, want a protocol error", err)
				}
			case tt.otherErr:
				if err == nil || errors.Is(err, errProtocol) {
					t.Errorf("err %v, want a non-protocol error", err)
				}
			case err != nil:
				t.Errorf("err %v, want a clean end", err)
			}
			server.Close()
			var got []sentFrame
			for {
				h, err := readFrameHeader(client)
				if err != nil {
					break
				}
				if h.masked {
					t.Errorf("server sent a masked frame")
				}
				p := make([]byte, h.length)
				io.ReadFull(client, p)
				got = append(got, sentFrame{h.opcode, string(p)})
			}
			if len(got) != len(tt.replies) {
				t.Fatalf("server sent %+v, want %+v", got, tt.replies)
			}
			for i := range got {
				if got[i] != tt.replies[i] {
					t.Errorf("frame %d: %+v, want %+v", i, got[i], tt.replies[i])
				}
			}
		})
	}
}

// TestWSConnClientServer checks both roles together: masked client frames unmask on
// the server, and large writes use the 64-bit length.
func TestWSConnClientServer(t *testing.T) {
	c, s := tcpPair(t)
	client, server := newWSConn(c, nil, true), newWSConn(s, nil, false)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<13) // 128 KiB
	go func() {
		client.Write(big)
		client.Close()
	}()
	got, err := io.ReadAll(server)
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("server read %d bytes, err %v; want %d bytes", len(got), err, len(big))
	}
	if server.peerClose != closeNormal {
		t.Fatalf("peer close code %d, want %d", server.peerClose, closeNormal)
	}
	if _, err := server.Write([]byte("x")); err == nil {
		t.Fatal("write after the close handshake succeeded")
	}
}
