// Package nbd is a small client of the Network Block Device protocol
// (https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md), enough
// to read and write a volume exported by qemu-storage-daemon or qemu-nbd: the
// fixed newstyle handshake, NBD_OPT_GO with an export name, and the simple
// replies of NBD_CMD_READ, WRITE, FLUSH and DISC. The volume service uses it to
// read and write a volume's data (backups, image uploads), tests and benchmarks
// to check what a guest would see.
//
// It does not negotiate structured replies, so the server answers every
// request with a simple reply; nor TLS: Go's crypto/tls has no TLS-PSK, so a
// PSK-protected export is reached through a local unprotected one (see the
// file backend's Open).
package nbd

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/unixsock"
)

// Protocol constants, named as proto.md names them.
const (
	nbdMagic       = 0x4e42444d41474943 // "NBDMAGIC"
	optMagic       = 0x49484156454f5054 // "IHAVEOPT"
	repMagic       = 0x0003e889045565a9
	requestMagic   = 0x25609513
	simpleRepMagic = 0x67446698

	flagFixedNewstyle = 1 << 0 // handshake flags
	flagNoZeroes      = 1 << 1

	optGo = 7

	repAck     = 1
	repInfo    = 3
	repErrBit  = 1 << 31
	repErrTLS  = repErrBit | 5 // NBD_REP_ERR_TLS_REQD
	infoExport = 0

	// Transmission flags.
	TransmissionHasFlags  = 1 << 0
	TransmissionReadOnly  = 1 << 1
	TransmissionSendFlush = 1 << 2

	cmdRead  = 0
	cmdWrite = 1
	cmdDisc  = 2
	cmdFlush = 3
)

// maxOptionReply bounds an option reply's payload a server may send during the
// handshake (an export's description at most; the protocol caps strings at
// 4096 bytes), so a hostile server cannot make the client allocate at will.
const maxOptionReply = 64 << 10

// maxRequest is the largest read or write sent as one request; bigger ones are
// split. QEMU refuses requests over 32 MiB (NBD_MAX_BUFFER_SIZE).
const maxRequest = 4 << 20

// Conn is one connection to an export, in its transmission phase. Its methods
// are safe for concurrent use; requests are sent one at a time.
type Conn struct {
	mu     sync.Mutex
	conn   net.Conn
	r      *bufio.Reader
	size   int64
	flags  uint16
	handle uint64
	err    error // a broken connection stays broken
}

// Error is an error the server answered, with its errno value (proto.md's
// NBD_EPERM, NBD_EIO, NBD_ENOSPC, ...) or its option reply type and message.
type Error struct {
	Op      string
	Code    uint32
	Message string
}

func (e *Error) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("nbd %s: error %#x: %s", e.Op, e.Code, e.Message)
	}
	return fmt.Sprintf("nbd %s: error %d", e.Op, e.Code)
}

// ErrTLSRequired is the handshake's answer of a server that serves only over TLS.
var ErrTLSRequired = errors.New("nbd: the server requires TLS")

// ErrReadOnly is returned by writes to a read-only export.
var ErrReadOnly = errors.New("nbd: export is read-only")

// Dial connects to the server at address ("host:port" for "tcp", a path for
// "unix") and opens the export named export.
func Dial(ctx context.Context, network, address, export string) (*Conn, error) {
	var (
		c   net.Conn
		err error
	)
	if network == "unix" {
		c, err = unixsock.Dial(ctx, nil, address)
	} else {
		c, err = (&net.Dialer{}).DialContext(ctx, network, address)
	}
	if err != nil {
		return nil, fmt.Errorf("nbd: %w", err)
	}
	conn, err := Handshake(ctx, c, export)
	if err != nil {
		c.Close()
		return nil, err
	}
	return conn, nil
}

// Handshake runs the fixed newstyle negotiation on c and opens export with
// NBD_OPT_GO. On success the Conn owns c.
func Handshake(ctx context.Context, c net.Conn, export string) (*Conn, error) {
	if len(export) > 4096 {
		return nil, errors.New("nbd: export name longer than 4096 bytes")
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	r := bufio.NewReader(c)
	var hello struct {
		Magic, OptMagic uint64
		Flags           uint16
	}
	if err := binary.Read(r, binary.BigEndian, &hello); err != nil {
		return nil, fmt.Errorf("nbd handshake: %w", err)
	}
	if hello.Magic != nbdMagic || hello.OptMagic != optMagic {
		return nil, errors.New("nbd handshake: not a newstyle NBD server")
	}
	if hello.Flags&flagFixedNewstyle == 0 {
		return nil, errors.New("nbd handshake: server does not speak fixed newstyle")
	}
	clientFlags := uint32(flagFixedNewstyle)
	if hello.Flags&flagNoZeroes != 0 {
		clientFlags |= flagNoZeroes
	}
	// NBD_OPT_GO's data: the name, and no information requests (the server
	// sends NBD_INFO_EXPORT regardless).
	opt := binary.BigEndian.AppendUint32(nil, clientFlags)
	opt = binary.BigEndian.AppendUint64(opt, optMagic)
	opt = binary.BigEndian.AppendUint32(opt, optGo)
	opt = binary.BigEndian.AppendUint32(opt, uint32(4+len(export)+2))
	opt = binary.BigEndian.AppendUint32(opt, uint32(len(export)))
	opt = append(opt, export...)
	opt = binary.BigEndian.AppendUint16(opt, 0)
	if _, err := c.Write(opt); err != nil {
		return nil, fmt.Errorf("nbd handshake: %w", err)
	}
	conn := &Conn{conn: c, r: r, size: -1}
	for {
		typ, data, err := readOptionReply(r, optGo)
		if err != nil {
			return nil, err
		}
		switch {
		case typ == repAck:
			if conn.size < 0 {
				return nil, errors.New("nbd handshake: server sent no export information")
			}
			c.SetDeadline(time.Time{})
			return conn, nil
		case typ == repInfo:
			if len(data) >= 2 && binary.BigEndian.Uint16(data) == infoExport {
				if len(data) != 12 {
					return nil, errors.New("nbd handshake: bad NBD_INFO_EXPORT")
				}
				size := binary.BigEndian.Uint64(data[2:])
				if size > 1<<62 {
					return nil, errors.New("nbd handshake: export size out of range")
				}
				conn.size, conn.flags = int64(size), binary.BigEndian.Uint16(data[10:])
			}
		case typ == repErrTLS:
			return nil, ErrTLSRequired
		case typ&repErrBit != 0:
			return nil, &Error{Op: "open export " + export, Code: typ, Message: printable(data)}
		default:
			// an informational reply this client does not know: ignore it
		}
	}
}

// readOptionReply reads one option reply to option and returns its type and data.
func readOptionReply(r io.Reader, option uint32) (uint32, []byte, error) {
	var h struct {
		Magic  uint64
		Option uint32
		Type   uint32
		Length uint32
	}
	if err := binary.Read(r, binary.BigEndian, &h); err != nil {
		return 0, nil, fmt.Errorf("nbd handshake: %w", err)
	}
	if h.Magic != repMagic || h.Option != option {
		return 0, nil, errors.New("nbd handshake: bad option reply")
	}
	if h.Length > maxOptionReply {
		return 0, nil, fmt.Errorf("nbd handshake: option reply of %d bytes", h.Length)
	}
	data := make([]byte, h.Length)
	if _, err := io.ReadFull(r, data); err != nil {
		return 0, nil, fmt.Errorf("nbd handshake: %w", err)
	}
	return h.Type, data, nil
}

// printable is a server's message, with anything not printable ASCII dropped,
// for an error that may reach a log.
func printable(b []byte) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c >= 0x20 && c < 0x7f {
			out = append(out, c)
		}
	}
	return string(out)
}

// Size is the export's size in bytes.
func (c *Conn) Size() int64 { return c.size }

// ReadOnly reports whether the server exports read-only.
func (c *Conn) ReadOnly() bool { return c.flags&TransmissionReadOnly != 0 }

// ReadAt reads len(p) bytes at off, as io.ReaderAt.
func (c *Conn) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= c.size {
			return n, io.EOF
		}
		chunk := min(len(p)-n, maxRequest, int(min(c.size-pos, int64(maxRequest))))
		if err := c.do(cmdRead, pos, p[n:n+chunk], nil); err != nil {
			return n, err
		}
		n += chunk
	}
	return n, nil
}

// WriteAt writes p at off, as io.WriterAt. Writes past the end are refused.
func (c *Conn) WriteAt(p []byte, off int64) (int, error) {
	if c.ReadOnly() {
		return 0, ErrReadOnly
	}
	if off < 0 || off+int64(len(p)) > c.size {
		return 0, fmt.Errorf("nbd write: %d bytes at %d past the export's end (%d)", len(p), off, c.size)
	}
	n := 0
	for n < len(p) {
		chunk := min(len(p)-n, maxRequest)
		if err := c.do(cmdWrite, off+int64(n), nil, p[n:n+chunk]); err != nil {
			return n, err
		}
		n += chunk
	}
	return n, nil
}

// Flush makes the writes the server acknowledged durable (NBD_CMD_FLUSH).
func (c *Conn) Flush() error {
	if c.flags&TransmissionSendFlush == 0 {
		return nil // the server writes through: nothing to flush
	}
	return c.do(cmdFlush, 0, nil, nil)
}

// Close flushes, says goodbye (NBD_CMD_DISC) and closes the connection.
func (c *Conn) Close() error {
	var err error
	if !c.ReadOnly() {
		err = c.Flush()
	}
	c.mu.Lock()
	if c.err == nil {
		c.send(cmdDisc, 0, 0, nil) // no reply comes to a DISC
		c.err = net.ErrClosed
	}
	c.mu.Unlock()
	if cerr := c.conn.Close(); err == nil && !errors.Is(cerr, net.ErrClosed) {
		err = cerr
	}
	return err
}

// do sends one request and reads its simple reply (into read for a read).
func (c *Conn) do(cmd uint16, off int64, read, write []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	length := len(read)
	if cmd == cmdWrite {
		length = len(write)
	}
	c.handle++
	if err := c.send(cmd, uint64(off), uint32(length), write); err != nil {
		c.err = fmt.Errorf("nbd: connection broken: %w", err)
		return c.err
	}
	code, err := c.readReply(c.handle, read)
	if err != nil {
		c.err = fmt.Errorf("nbd: connection broken: %w", err)
		return c.err
	}
	if code != 0 {
		return &Error{Op: commandName(cmd), Code: code}
	}
	return nil
}

func (c *Conn) send(cmd uint16, off uint64, length uint32, data []byte) error {
	req := make([]byte, 28, 28+len(data))
	binary.BigEndian.PutUint32(req[0:], requestMagic)
	binary.BigEndian.PutUint16(req[4:], 0)
	binary.BigEndian.PutUint16(req[6:], cmd)
	binary.BigEndian.PutUint64(req[8:], c.handle)
	binary.BigEndian.PutUint64(req[16:], off)
	binary.BigEndian.PutUint32(req[24:], length)
	_, err := c.conn.Write(append(req, data...))
	return err
}

// readReply reads the simple reply to handle; read receives a read's data,
// which follows only a successful reply.
func (c *Conn) readReply(handle uint64, read []byte) (uint32, error) {
	return readSimpleReply(c.r, handle, read)
}

func readSimpleReply(r io.Reader, handle uint64, read []byte) (uint32, error) {
	var h [16]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, err
	}
	if binary.BigEndian.Uint32(h[0:]) != simpleRepMagic {
		return 0, errors.New("bad reply magic (structured replies were not negotiated)")
	}
	if got := binary.BigEndian.Uint64(h[8:]); got != handle {
		return 0, fmt.Errorf("reply to request %d, expected %d", got, handle)
	}
	code := binary.BigEndian.Uint32(h[4:])
	if code == 0 && len(read) > 0 {
		if _, err := io.ReadFull(r, read); err != nil {
			return 0, err
		}
	}
	return code, nil
}

func commandName(cmd uint16) string {
	switch cmd {
	case cmdRead:
		return "read"
	case cmdWrite:
		return "write"
	case cmdFlush:
		return "flush"
	}
	return fmt.Sprintf("command %d", cmd)
}
