package console

import (
	"bytes"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"
)

const benchChunk = 64 << 10

// sourceTarget is a VNC stand-in that streams bytes as fast as the proxy takes them,
// the way framebuffer updates flow.
func sourceTarget(b *testing.B) string {
	sock := filepath.Join(b.TempDir(), "src.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := bytes.Repeat([]byte{0xA5}, benchChunk)
		for {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}()
	return sock
}

// sinkTarget discards what it gets and reports the total once the proxy closes.
func sinkTarget(b *testing.B) (string, <-chan int64) {
	sock := filepath.Join(b.TempDir(), "sink.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	total := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		n, _ := io.Copy(io.Discard, c)
		c.Close()
		total <- n
	}()
	return sock, total
}

func benchConnect(b *testing.B, target Target) *wsConn {
	f := newProxyFixture(b, Options{})
	ws, resp, err := dialWS(f.addr, "/?token="+f.issue(b, target, time.Minute), nil)
	if err != nil || resp.StatusCode != 101 {
		b.Fatalf("connect: %v %v", resp, err)
	}
	return ws
}

// BenchmarkRelayDown is guest → browser: the framebuffer direction.
func BenchmarkRelayDown(b *testing.B) {
	ws := benchConnect(b, Target{Socket: sourceTarget(b)})
	defer ws.Close()
	buf := make([]byte, benchChunk)
	b.SetBytes(benchChunk)
	b.ResetTimer()
	for b.Loop() {
		if _, err := io.ReadFull(ws, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRelayUp is browser → guest: masked client frames unmasked by the proxy.
func BenchmarkRelayUp(b *testing.B) {
	sock, total := sinkTarget(b)
	ws := benchConnect(b, Target{Socket: sock})
	buf := bytes.Repeat([]byte{0x5A}, benchChunk)
	b.SetBytes(benchChunk)
	b.ResetTimer()
	var sent int64
	for b.Loop() {
		if _, err := ws.Write(buf); err != nil {
			b.Fatal(err)
		}
		sent += benchChunk
	}
	ws.Close()
	if got := <-total; got != sent {
		b.Fatalf("target got %d bytes, sent %d", got, sent)
	}
	b.StopTimer()
}
