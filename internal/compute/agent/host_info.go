package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// Diagnostics are the figures of the instance's guest, for os-server-diagnostics.
func (a *Agent) Diagnostics(ctx context.Context, uuid string) (virt.Diagnostics, error) {
	return a.opts.Driver.Diagnostics(ctx, virt.Spec{UUID: uuid, Dir: filepath.Join(a.opts.InstancesDir, uuid)})
}

// HostUptime is the host's uptime as uptime(1) prints it, what upstream's
// libvirt driver answers for os-hypervisors/{id}/uptime.
func (a *Agent) HostUptime() (string, error) {
	up, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return "", fmt.Errorf("host uptime: %w", err)
	}
	load, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "", fmt.Errorf("host load: %w", err)
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(up)), " ")
	secs, err := strconv.ParseFloat(first, 64)
	if err != nil {
		return "", fmt.Errorf("host uptime %q: %w", up, err)
	}
	return formatUptime(time.Now(), time.Duration(secs)*time.Second, strings.Fields(string(load))), nil
}

// formatUptime is uptime(1)'s line: the time, how long the host has been up, and
// the load averages (the users it cannot know are left out).
func formatUptime(now time.Time, up time.Duration, load []string) string {
	days := int(up.Hours()) / 24
	hours, minutes := int(up.Hours())%24, int(up.Minutes())%60
	var since string
	switch {
	case days == 1:
		since = "1 day, "
	case days > 1:
		since = strconv.Itoa(days) + " days, "
	}
	if hours > 0 {
		since += fmt.Sprintf("%2d:%02d", hours, minutes)
	} else {
		since += fmt.Sprintf("%d min", minutes)
	}
	for len(load) < 3 {
		load = append(load, "0.00")
	}
	return fmt.Sprintf(" %s up %s,  load average: %s, %s, %s", now.Format("15:04:05"), since, load[0], load[1], load[2])
}
