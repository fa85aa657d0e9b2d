package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/cloud"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/testbed"
)

// Cloud is a throw-away all-in-one (`nimbus up --ephemeral-ports` in a fresh data
// dir) that a bench starts, measures and removes.
type Cloud struct {
	// DataDir is the cloud's data dir; its images are in DataDir/images.
	DataDir string
	// CloudsYAML is the clouds.yaml it wrote (clouds nimbus-admin and nimbus-demo).
	CloudsYAML string
	// PID is the server's process id.
	PID  int
	cmd  *exec.Cmd
	done chan error
}

// StartCloud runs `exe up` with a new data dir under parent and waits for its ready
// line, without a network data plane; env (NAME=value) is added to its environment. Its log goes to
// DataDir/nimbus.log.
func StartCloud(ctx context.Context, exe, parent string, env ...string) (*Cloud, error) {
	dir, err := os.MkdirTemp(parent, "nimbus-bench-cloud.")
	if err != nil {
		return nil, err
	}
	return startIn(ctx, exe, dir, env...)
}

// startIn is StartCloud in a data dir made already; on failure the cloud is
// stopped and dir removed.
func startIn(ctx context.Context, exe, dir string, env ...string) (*Cloud, error) {
	c := &Cloud{DataDir: dir, CloudsYAML: filepath.Join(dir, "clouds.yaml"), done: make(chan error, 1)}
	logFile, err := os.Create(filepath.Join(dir, "nimbus.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer logFile.Close()
	c.cmd = exec.Command(exe, "up", "--data-dir", dir, "--ephemeral-ports")
	c.cmd.Stderr = logFile
	// A bench measures the APIs: its cloud never builds a data plane on this host
	// (StartDataplaneCloud overrides this, for a data plane in a namespace of its own).
	c.cmd.Env = append(append(os.Environ(), "NIMBUS_NETWORK_DATAPLANE=off", "NIMBUS_COMPUTE_DRIVER=fake"), env...)
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c.PID = c.cmd.Process.Pid
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		found := false
		for sc.Scan() {
			if !found && strings.HasPrefix(sc.Text(), "nimbus ready") {
				found = true
				ready <- true
			}
		}
		if !found {
			ready <- false
		}
		_, _ = io.Copy(io.Discard, out)
		c.done <- c.cmd.Wait()
	}()
	timeout := time.NewTimer(time.Minute)
	defer timeout.Stop()
	select {
	case ok := <-ready:
		if ok {
			return c, nil
		}
		err = errors.New("nimbus up exited before it was ready")
	case <-timeout.C:
		err = errors.New("nimbus up was not ready within a minute")
	case <-ctx.Done():
		err = ctx.Err()
	}
	log, _ := os.ReadFile(filepath.Join(dir, "nimbus.log"))
	c.Stop()
	return nil, fmt.Errorf("%w; its log:\n%s", err, tail(log, 2000))
}

// Stop ends the cloud (SIGTERM, then SIGKILL after 10 s) and removes its data dir.
func (c *Cloud) Stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	os.RemoveAll(c.DataDir)
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// DataplaneTools are what the data-plane scenarios need besides root: the
// commands of the cloud's agents, the DHCP client and ping.
var DataplaneTools = []string{"ip", "bridge", "dnsmasq", "iptables", "iptables-restore", "ip6tables", "ipset", "nft",
	"conntrack", "arping", "dhclient", "ping"}

// DataplaneCloud is a throw-away cloud whose data plane is real and lives in a
// namespace the bench made (network.host_namespace), as in the e2e tests. That
// namespace also plays the outside host: the public interface (nimbus-ex,
// 172.24.4.1) that the routers' gateways face is there. Instances are namespaces
// of Bed. No packet crosses the machine's own namespace or interfaces; the
// qdhcp-/qrouter- namespaces and dnsmasqs the agents make go at Stop with the rest.
type DataplaneCloud struct {
	*Cloud
	Bed *testbed.Bed
	// Host is network.host: the name ports are bound to for this cloud to wire them.
	Host   string
	agents testbed.CloudAgents
}

// StartDataplaneCloud makes a bed (a host namespace named after this process) and
// starts `exe up` in a new data dir under parent with its data plane in that
// namespace; env (NAME=value) is added to its environment, after (so over) the
// data plane's. It needs root and DataplaneTools.
func StartDataplaneCloud(ctx context.Context, exe, parent string, env ...string) (*DataplaneCloud, error) {
	if missing := testbed.Missing(DataplaneTools...); len(missing) > 0 {
		return nil, fmt.Errorf("the data-plane scenarios need %s", strings.Join(missing, ", "))
	}
	bed, err := testbed.New("bench")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(parent, "nimbus-bench-cloud.")
	if err != nil {
		bed.Close()
		return nil, err
	}
	d := &DataplaneCloud{Bed: bed, Host: bed.Prefix,
		agents: testbed.CloudAgents{DHCPDir: filepath.Join(cloud.RunDir(dir), "dhcp"), Host: bed.Prefix}}
	c, err := startIn(ctx, exe, dir, append([]string{"NIMBUS_NETWORK_DATAPLANE=on", "NIMBUS_NETWORK_HOST=" + d.Host,
		"NIMBUS_NETWORK_HOST_NAMESPACE=" + bed.Host, "NIMBUS_IMAGE_GUEST_IMAGE=false"}, env...)...)
	if err != nil {
		d.agents.Remove()
		bed.Close()
		return nil, err
	}
	d.Cloud = c
	return d, nil
}

// Stop ends the cloud, then removes what its agents made (dnsmasqs, qdhcp- and
// qrouter- namespaces, its run dir) and the bed with its host and instances.
func (d *DataplaneCloud) Stop() {
	d.Cloud.Stop()
	d.agents.Remove()
	d.Bed.Close()
}
