package nbd

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// scriptedConn is a server that says what the fuzzer wrote and ignores what it
// is told.
type scriptedConn struct{ r io.Reader }

func (c *scriptedConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *scriptedConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *scriptedConn) Close() error                     { return nil }
func (c *scriptedConn) LocalAddr() net.Addr              { return &net.UnixAddr{} }
func (c *scriptedConn) RemoteAddr() net.Addr             { return &net.UnixAddr{} }
func (c *scriptedConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptedConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptedConn) SetWriteDeadline(time.Time) error { return nil }

// goodServer is what a server answers to NBD_OPT_GO on an export of size bytes,
// then the simple reply to the first request (a read of 4 bytes).
func goodServer(size uint64) []byte {
	b := binary.BigEndian.AppendUint64(nil, nbdMagic)
	b = binary.BigEndian.AppendUint64(b, optMagic)
	b = binary.BigEndian.AppendUint16(b, flagFixedNewstyle|flagNoZeroes)
	info := binary.BigEndian.AppendUint16(nil, infoExport)
	info = binary.BigEndian.AppendUint64(info, size)
	info = binary.BigEndian.AppendUint16(info, TransmissionHasFlags|TransmissionSendFlush)
	for _, rep := range []struct {
		typ  uint32
		data []byte
	}{{repInfo, info}, {repAck, nil}} {
		b = binary.BigEndian.AppendUint64(b, repMagic)
		b = binary.BigEndian.AppendUint32(b, optGo)
		b = binary.BigEndian.AppendUint32(b, rep.typ)
		b = binary.BigEndian.AppendUint32(b, uint32(len(rep.data)))
		b = append(b, rep.data...)
	}
	b = binary.BigEndian.AppendUint32(b, simpleRepMagic)
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint64(b, 1)
	return append(b, "data"...)
}

// FuzzHandshake feeds a server's bytes to the handshake and a first read: a
// hostile or broken server may make them fail, never panic or allocate beyond
// the protocol's bounds.
func FuzzHandshake(f *testing.F) {
	f.Add(goodServer(1 << 20))
	f.Add(goodServer(1 << 63))
	f.Add(goodServer(0))
	f.Add([]byte("NBDMAGIC"))
	f.Fuzz(func(t *testing.T, server []byte) {
		c, err := Handshake(context.Background(), &scriptedConn{bytes.NewReader(server)}, "disk")
		if err != nil {
			return
		}
		if c.Size() < 0 {
			t.Fatalf("negative size %d", c.Size())
		}
		buf := make([]byte, 4)
		c.ReadAt(buf, 0)
		c.Close()
	})
}

func TestScriptedServer(t *testing.T) {
	c, err := Handshake(context.Background(), &scriptedConn{bytes.NewReader(goodServer(1 << 20))}, "disk")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := c.ReadAt(buf, 0); err != nil || string(buf) != "data" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if _, err := Handshake(context.Background(), &scriptedConn{bytes.NewReader(goodServer(1 << 63))}, "disk"); err == nil {
		t.Error("an export of 2^63 bytes was accepted")
	}
}
