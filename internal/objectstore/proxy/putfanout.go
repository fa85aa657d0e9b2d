package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

// putChunkSize is how much of the client's body one read takes and one chunk
// carries to every replica: upstream's client_chunk_size is 64 KiB.
const putChunkSize = 64 << 10

// putQueueDepth is how many chunks may wait for one slow replica before the
// proxy stops reading the client: memory stays bounded (depth x chunk x
// replicas) while a node that is briefly slower does not stall the others.
const putQueueDepth = 4

var putChunkPool = sync.Pool{New: func() any { b := make([]byte, putChunkSize); return &b }}

// putChunk is one piece of the client's body on its way to every replica;
// the last sender to finish with it returns its buffer to the pool.
type putChunk struct {
	buf  *[]byte
	n    int
	refs atomic.Int32
}

func (c *putChunk) release() {
	if c.refs.Add(-1) == 0 {
		putChunkPool.Put(c.buf)
	}
}

// transfer copies the client's body to every live putter, each replica fed
// from its own queue by its own goroutine, as upstream's proxy gives each
// Putter a queue and a send greenthread (swift/proxy/controllers/obj.py
// _send_file): the replicas receive a chunk at the same time rather than one
// after the other. A putter whose node fails is dropped, and the upload
// fails when fewer than a quorum are left. It returns 0, or the status to
// answer: 499 when the client's body ended early, 408 when it stalled, 503
// without a quorum.
func (p *Proxy) transfer(body io.Reader, live []*putter, replicas int) (int64, int) {
	var alive atomic.Int32
	alive.Store(int32(len(live)))
	queues := make([]chan *putChunk, len(live))
	var senders sync.WaitGroup
	for i, pu := range live {
		queues[i] = make(chan *putChunk, putQueueDepth)
		senders.Add(1)
		go func(q <-chan *putChunk) {
			defer senders.Done()
			dead := false
			for c := range q {
				if !dead {
					if _, err := pu.pw.Write((*c.buf)[:c.n]); err != nil {
						dead = true
						alive.Add(-1)
					}
				}
				c.release()
			}
		}(queues[i])
	}
	// finish stops the senders once every queued chunk went out (or failed)
	finish := func() {
		for _, q := range queues {
			close(q)
		}
		senders.Wait()
	}
	closeAll := func(err error) {
		for _, pu := range live {
			if err == nil {
				_ = pu.pw.Close()
			} else {
				_ = pu.pw.CloseWithError(err)
			}
		}
	}
	noQuorum := errors.New("no quorum")
	var total int64
	for {
		buf := putChunkPool.Get().(*[]byte)
		n, rerr := io.ReadFull(body, *buf)
		if rerr == io.ErrUnexpectedEOF {
			rerr = io.EOF
		}
		total += int64(n)
		if n > 0 {
			c := &putChunk{buf: buf, n: n}
			c.refs.Store(int32(len(live)))
			for _, q := range queues {
				q <- c
			}
		} else {
			putChunkPool.Put(buf)
		}
		if int(alive.Load()) < quorum(replicas) {
			closeAll(noQuorum)
			finish()
			return total, http.StatusServiceUnavailable
		}
		if rerr == io.EOF {
			finish()
			if int(alive.Load()) < quorum(replicas) {
				closeAll(noQuorum)
				return total, http.StatusServiceUnavailable
			}
			closeAll(nil)
			return total, 0
		}
		if rerr != nil {
			closeAll(rerr)
			finish()
			if errors.Is(rerr, context.DeadlineExceeded) {
				return total, http.StatusRequestTimeout
			}
			return total, 499
		}
	}
}
