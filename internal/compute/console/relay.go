package console

import (
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// closeWait is how long the proxy waits for the client's close frame after sending its
// own, so the client sees a clean close rather than a reset.
const closeWait = 2 * time.Second

// relay copies bytes both ways between a client's websocket and a guest's VNC server.
type relay struct {
	ws     *wsConn
	target net.Conn
	log    *slog.Logger
	once   sync.Once
}

// run relays until either side ends, then closes both.
func (rl *relay) run() {
	start := time.Now()
	var down int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// The guest side: when it ends (VM stopped, VNC closed), tell the client and
		// give it closeWait to answer, which ends the other direction.
		down, _ = io.CopyBuffer(rl.ws, rl.target, make([]byte, 64<<10))
		rl.ws.writeClose(closeNormal, "")
		_ = rl.ws.conn.SetReadDeadline(time.Now().Add(closeWait))
	}()
	up, err := io.Copy(rl.target, rl.ws)
	rl.target.Close() // ends the goroutine's read from the guest
	wg.Wait()
	rl.ws.conn.Close()
	attrs := []any{"bytes_up", up, "bytes_down", down, "duration", time.Since(start).Round(time.Millisecond)}
	if err != nil && err != io.EOF {
		attrs = append(attrs, "err", err)
	}
	rl.log.Info("console: closed", attrs...)
}

// stop ends the relay from outside: close going-away, then both connections.
func (rl *relay) stop() {
	rl.once.Do(func() {
		rl.ws.writeClose(closeGoingAway, "proxy shutting down")
		rl.ws.conn.Close()
		rl.target.Close()
	})
}
