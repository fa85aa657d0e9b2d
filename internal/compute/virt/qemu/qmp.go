package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/unixsock"
)

// qmpTimeout bounds one QMP conversation when the caller's context has no deadline:
// a QEMU that stops answering must not hang the agent.
const qmpTimeout = 30 * time.Second

// QMPError is an error reply of QEMU's monitor ({"error": {"class", "desc"}}).
type QMPError struct {
	Command string `json:"-"`
	Class   string `json:"class"`
	Desc    string `json:"desc"`
}

func (e *QMPError) Error() string {
	return fmt.Sprintf("QMP %s: %s: %s", e.Command, e.Class, e.Desc)
}

// qmpConn is one QMP session on a monitor's unix socket. QMP is JSON objects, one a
// line: QEMU greets, the client leaves capabilities negotiation with
// qmp_capabilities, then every command gets one reply (return or error), with
// asynchronous events interleaved, which this client skips (the driver polls state
// instead of following events, so it never depends on having seen one).
type qmpConn struct {
	conn net.Conn
	r    *bufio.Reader
	id   int
}

// dialQMP connects to the monitor at path and negotiates capabilities.
func dialQMP(ctx context.Context, path string) (*qmpConn, error) {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	conn, err := unixsock.Dial(ctx, nil, path)
	if err != nil {
		return nil, fmt.Errorf("QMP connect: %w", err)
	}
	c := &qmpConn{conn: conn, r: bufio.NewReader(conn)}
	if err := c.handshake(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

func (c *qmpConn) handshake(ctx context.Context) error {
	c.setDeadline(ctx)
	line, err := c.r.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("QMP greeting: %w", err)
	}
	var greeting struct {
		QMP json.RawMessage `json:"QMP"`
	}
	if err := json.Unmarshal(line, &greeting); err != nil || greeting.QMP == nil {
		return fmt.Errorf("QMP greeting: not a QMP server: %q", line)
	}
	return c.execute(ctx, "qmp_capabilities", nil, nil)
}

// execute runs one command with arguments (nil for none) and decodes its return
// value into result (nil to ignore it).
func (c *qmpConn) execute(ctx context.Context, command string, args, result any) error {
	return c.executeFile(ctx, command, args, result, nil)
}

// executeFile is execute passing file's descriptor along with the command
// (SCM_RIGHTS), as getfd wants it.
func (c *qmpConn) executeFile(ctx context.Context, command string, args, result any, file *os.File) error {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	c.setDeadline(ctx)
	// A cancelled context must end a read that is waiting for QEMU.
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c.id++
	req := struct {
		Execute   string `json:"execute"`
		Arguments any    `json:"arguments,omitempty"`
		ID        int    `json:"id"`
	}{command, args, c.id}
	data, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("QMP %s: %w", command, err)
	}
	if err := c.write(append(data, '\n'), file); err != nil {
		return fmt.Errorf("QMP %s: %w", command, err)
	}
	for {
		line, err := c.r.ReadBytes('\n')
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return fmt.Errorf("QMP %s: %w", command, err)
		}
		var reply struct {
			Return json.RawMessage `json:"return"`
			Error  *QMPError       `json:"error"`
			Event  string          `json:"event"`
			ID     *int            `json:"id"`
		}
		if err := json.Unmarshal(line, &reply); err != nil {
			return fmt.Errorf("QMP %s: bad reply %q: %w", command, line, err)
		}
		if reply.Event != "" || (reply.ID != nil && *reply.ID != c.id) {
			continue // an event, or the late reply of an earlier command
		}
		if reply.Error != nil {
			reply.Error.Command = command
			return reply.Error
		}
		if reply.Return == nil {
			continue // neither a reply nor an event: ignore what we do not know
		}
		if result == nil {
			return nil
		}
		if err := json.Unmarshal(reply.Return, result); err != nil {
			return fmt.Errorf("QMP %s: decode %s: %w", command, reply.Return, err)
		}
		return nil
	}
}

// write sends one request line, with file's descriptor as ancillary data when set.
func (c *qmpConn) write(line []byte, file *os.File) error {
	if file == nil {
		_, err := c.conn.Write(line)
		return err
	}
	uc, ok := c.conn.(*net.UnixConn)
	if !ok {
		return errors.New("passing a file needs a unix socket")
	}
	_, _, err := uc.WriteMsgUnix(line, syscall.UnixRights(int(file.Fd())), nil)
	return err
}

func (c *qmpConn) setDeadline(ctx context.Context) {
	if dl, ok := ctx.Deadline(); ok {
		c.conn.SetDeadline(dl)
	}
}

func (c *qmpConn) Close() error { return c.conn.Close() }

// withDefaultTimeout gives ctx a deadline of qmpTimeout unless it has one.
func withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, qmpTimeout)
}

// qmp runs one command in a session of its own. QEMU's monitor serves one client at
// a time, so the driver never holds a session open between operations: a second
// agent (or an operator's qmp-shell) is never locked out for long.
func qmp(ctx context.Context, socket, command string, args, result any) error {
	c, err := dialQMP(ctx, socket)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.execute(ctx, command, args, result)
}
