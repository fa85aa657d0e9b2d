package compute

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

func (s *Service) serverActionRoutes() []httpapi.Route {
	return []httpapi.Route{{Method: "POST", Path: "/v2.1/servers/{id}/action", Handler: s.serverAction},
		{Method: "POST", Path: "/v2.1/servers/{id}/remote-consoles", Handler: s.createRemoteConsole}}
}

// stateAction is a lifecycle action the API turns into a task for the host's
// agent: allowed from some vm_states, with no task running (upstream's
// check_instance_state), refused while locked for non-admins.
type stateAction struct {
	policy string
	action string   // os-instance-actions' name
	from   []string // vm_states allowed
	task   string   // the task_state it sets
}

var stateActions = map[string]stateAction{
	"os-stop":  {"os_compute_api:servers:stop", "stop", []string{vmActive, vmError}, taskPoweringOff},
	"os-start": {"os_compute_api:servers:start", "start", []string{vmStopped}, taskPoweringOn},
	"pause":    {"os_compute_api:os-pause-server:pause", "pause", []string{vmActive}, taskPausing},
	"unpause":  {"os_compute_api:os-pause-server:unpause", "unpause", []string{vmPaused}, taskUnpausing},
	"suspend":  {"os_compute_api:os-suspend-server:suspend", "suspend", []string{vmActive}, taskSuspending},
	"resume":   {"os_compute_api:os-suspend-server:resume", "resume", []string{vmSuspended}, taskResuming},
}

// serverAction is POST /servers/{id}/action: one action named by the body's key.
func (s *Service) serverAction(r *http.Request) (httpapi.Response, error) {
	name, arg, err := oneAction(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	if a, ok := stateActions[name]; ok {
		return s.startStateAction(r, a)
	}
	switch name {
	case "reboot":
		var req struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(arg, &req); err != nil || (req.Type != "SOFT" && req.Type != "HARD") {
			return httpapi.Response{}, badRequest("Invalid input for field/attribute type. Value: %s. '%s' is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']", req.Type, req.Type)
		}
		if req.Type == "HARD" {
			return s.startStateAction(r, stateAction{"os_compute_api:servers:reboot", "reboot",
				[]string{vmActive, vmStopped, vmPaused, vmSuspended, vmError}, taskRebootingHard})
		}
		return s.startStateAction(r, stateAction{"os_compute_api:servers:reboot", "reboot", []string{vmActive}, taskRebooting})
	case "rebuild":
		return s.rebuild(r, arg)
	case "resize":
		return s.resize(r, arg)
	case "confirmResize":
		return s.confirmResize(r)
	case "revertResize":
		return s.revertResize(r)
	case "rescue":
		return s.rescue(r, arg)
	case "unrescue":
		return s.unrescue(r)
	case "lock":
		return s.lock(r, arg)
	case "unlock":
		return s.unlock(r)
	case "os-getConsoleOutput":
		return s.consoleOutput(r, arg)
	case "os-getVNCConsole":
		return s.vncConsole(r, arg)
	case "addSecurityGroup":
		return s.addSecurityGroup(r, arg)
	case "removeSecurityGroup":
		return s.removeSecurityGroup(r, arg)
	case "os-resetState":
		return s.resetState(r, arg)
	case "addFloatingIp":
		return s.addFloatingIP(r, arg)
	case "removeFloatingIp":
		return s.removeFloatingIP(r, arg)
	case "createImage":
		return s.createImage(r, arg)
	case "createBackup":
		return s.createBackup(r, arg)
	case "shelve":
		return s.shelve(r)
	case "shelveOffload":
		return s.shelveOffload(r)
	case "unshelve":
		return s.unshelve(r, arg)
	case "evacuate":
		return s.evacuate(r, arg)
	}
	return httpapi.Response{}, badRequest("There is no such action: %s", name)
}

// oneAction reads an action request, {"<action>": <argument>}, which names
// exactly one action (upstream's action_peek: 400 "Malformed request body"
// otherwise).
func oneAction(r *http.Request) (string, json.RawMessage, error) {
	var body map[string]json.RawMessage
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return "", nil, err
	}
	if len(body) != 1 {
		return "", nil, badRequest("Malformed request body")
	}
	for k, v := range body {
		return k, v, nil
	}
	panic("unreachable")
}

// decodeAction reads an action's argument, an object whose every name allowed
// accepts (upstream's schema with additionalProperties false), into v.
func decodeAction(action string, arg json.RawMessage, allowed func(name string) bool, v any) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(arg, &fields); err != nil || fields == nil {
		return badRequest("Invalid input for field/attribute %s. Value: %s. It is not of type 'object'", action, arg)
	}
	for name := range fields {
		if !allowed(name) {
			return badRequest("Invalid input for field/attribute %s. Additional properties are not allowed ('%s' was unexpected)", action, name)
		}
	}
	if err := json.Unmarshal(arg, v); err != nil {
		return badRequest("Invalid input for field/attribute %s: %s", action, err.Error())
	}
	return nil
}

// checkLocked refuses a locked server's changes to everyone but admins.
func (s *Service) checkLocked(r *http.Request, in *instance) error {
	if in.Locked && !isAdmin(auth.FromContext(r.Context())) {
		return conflict("Instance %s is locked", in.UUID)
	}
	return nil
}

func invalidState(method string, in *instance, attr, state string) error {
	return conflict("Cannot '%s' instance %s while it is in %s %s", method, in.UUID, attr, state)
}

func (s *Service) startStateAction(r *http.Request, a stateAction) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, a.policy)
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.changeState(r, in, a.action, a.from, a.task, nil); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

func (s *Service) lock(r *http.Request, arg json.RawMessage) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:os-lock-server:lock")
	if err != nil {
		return httpapi.Response{}, err
	}
	var req struct {
		Reason *string `json:"locked_reason"`
	}
	// A reason is 2.73's; before, upstream ignores the body.
	if len(arg) > 0 && string(arg) != "null" && since(r, 73) {
		if err := json.Unmarshal(arg, &req); err != nil {
			return httpapi.Response{}, badRequest("Invalid input for field/attribute lock.")
		}
		if req.Reason != nil && len([]rune(*req.Reason)) > 255 {
			return httpapi.Response{}, badRequest("Invalid input for field/attribute locked_reason. Value: %s. It is longer than 255 characters", *req.Reason)
		}
	}
	creds := auth.FromContext(r.Context())
	by := "owner"
	if creds.ProjectID != in.ProjectID {
		by = "admin"
	}
	err = s.changeInstance(r, in.UUID, "lock", func(_ *db.Tx, cur *instance) error {
		cur.Locked, cur.LockedBy = true, by
		if req.Reason != nil {
			cur.LockedReason = *req.Reason
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

// unlock: a lock set by an admin of another project needs the override rule.
func (s *Service) unlock(r *http.Request) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:os-lock-server:unlock")
	if err != nil {
		return httpapi.Response{}, err
	}
	creds := auth.FromContext(r.Context())
	err = s.changeInstance(r, in.UUID, "unlock", func(_ *db.Tx, cur *instance) error {
		if cur.LockedBy == "admin" && creds.ProjectID == cur.ProjectID {
			if err := s.enforce(r, "os_compute_api:os-lock-server:unlock:unlock_override",
				map[string]any{"target.project_id": cur.ProjectID}); err != nil {
				return err
			}
		}
		cur.Locked, cur.LockedBy, cur.LockedReason = false, "", ""
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

// changeInstance applies change to the instance as it is now, in one
// transaction with the write of what change changed (saveInstance), and
// records action (none when ""). A deleted instance is 404.
func (s *Service) changeInstance(r *http.Request, id, action string, change func(*db.Tx, *instance) error) error {
	ctx := r.Context()
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		cur, err := loadInstance(ctx, tx, id)
		if err != nil {
			return err
		}
		if cur.Deleted {
			return notFound("Instance %s could not be found.", id)
		}
		if err := change(tx, cur); err != nil {
			return err
		}
		cur.UpdatedAt = stamp(s.now())
		if err := saveInstance(ctx, tx, cur); err != nil {
			return err
		}
		if action == "" {
			return nil
		}
		return s.startAction(ctx, tx, r, cur, action)
	})
}

// consoleOutput is os-getConsoleOutput: the guest's console log as upstream
// computes it (nova/compute/manager.py _tail_log and
// nova/api/openstack/compute/console_output.py): the last length pieces of the
// log split on "\n", with the control characters upstream strips removed.
func (s *Service) consoleOutput(r *http.Request, arg json.RawMessage) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:os-console-output")
	if err != nil {
		return httpapi.Response{}, err
	}
	var req struct {
		Length any `json:"length"`
	}
	if len(arg) > 0 && string(arg) != "null" {
		if err := json.Unmarshal(arg, &req); err != nil {
			return httpapi.Response{}, badRequest("Invalid input for field/attribute os-getConsoleOutput.")
		}
	}
	var length *int
	switch v := req.Length.(type) {
	case nil:
	case float64:
		n := int(v)
		length = &n
	case string:
		n, err := optionalInt(v)
		if err != nil {
			return httpapi.Response{}, badRequest("Invalid input for field/attribute length. Value: %s.", v)
		}
		length = &n
	default:
		return httpapi.Response{}, badRequest("Invalid input for field/attribute length.")
	}
	if length != nil && *length < -1 {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute length. Value: %d. %d is less than the minimum of -1", *length, *length)
	}
	if in.Host == "" || in.VMState == vmBuilding && in.TaskState != taskSpawning {
		return httpapi.Response{}, conflict("Instance %s is not ready", in.UUID)
	}
	if s.hosts == nil {
		return httpapi.Response{}, conflict("Instance %s has no console here", in.UUID)
	}
	out, err := s.hosts.ConsoleOutput(r.Context(), in.Host, in.UUID, 0)
	if err != nil {
		if httpapi.IsStatus(err, http.StatusNotFound) {
			return httpapi.Response{}, notFound("Guest does not have a console available.")
		}
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"output": consoleText(out, length)}), nil
}

// consoleText is upstream's console output of log: with a length, the log split
// on "\n" and its last length pieces joined again (so a log ending in a newline
// yields length-1 lines and an empty piece; 0 is nothing; -1, as upstream's
// slice [1:], all but the first piece); then the control characters
// [\x00-\x08\x0B-\x1F] removed (no "\r", no terminal escapes).
func consoleText(log string, length *int) string {
	if length != nil {
		switch n := *length; {
		case n == 0:
			log = ""
		case n < 0:
			pieces := strings.Split(log, "\n")
			log = strings.Join(pieces[min(-n, len(pieces)):], "\n")
		default:
			pieces := strings.Split(log, "\n")
			log = strings.Join(pieces[max(0, len(pieces)-n):], "\n")
		}
	}
	return strings.Map(func(c rune) rune {
		if c <= 0x08 || c >= 0x0B && c <= 0x1F {
			return -1
		}
		return c
	}, log)
}

// vncConsole is os-getVNCConsole: a noVNC URL with a single-use token for the
// guest's VNC server, through the console proxy.
func (s *Service) vncConsole(r *http.Request, arg json.RawMessage) (httpapi.Response, error) {
	if since(r, 6) { // remote_consoles.py get_vnc_console: @wsgi.api_version("2.1", "2.5")
		return httpapi.Response{}, versionNotFound()
	}
	in, err := s.visibleInstance(r, "os_compute_api:os-remote-consoles")
	if err != nil {
		return httpapi.Response{}, err
	}
	var req struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(arg, &req); err != nil || req.Type == "" {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute os-getVNCConsole. 'type' is a required property")
	}
	if req.Type != "novnc" && req.Type != "xvpvnc" {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute type. Value: %s. '%s' is not one of ['novnc', 'xvpvnc']", req.Type, req.Type)
	}
	url, err := s.noVNCURL(r, in, req.Type)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"console": map[string]string{"type": req.Type, "url": url}}), nil
}

// noVNCURL issues a single-use noVNC URL for the guest's VNC server; typ is the
// console type asked for ("Unavailable console type" unless it is novnc and the
// cloud has a proxy).
func (s *Service) noVNCURL(r *http.Request, in *instance, typ string) (string, error) {
	if typ != "novnc" || s.opts.Consoles == nil {
		return "", badRequest("Unavailable console type %s.", typ)
	}
	if in.Host == "" || in.VMState == vmBuilding || s.hosts == nil {
		return "", conflict("Instance %s is not ready", in.UUID)
	}
	socket, err := s.hosts.VNCSocket(r.Context(), in.Host, in.UUID)
	if err != nil {
		return "", err
	}
	if socket == "" {
		return "", badRequest("Unavailable console type %s.", typ)
	}
	return s.opts.Consoles.Issue(socket)
}
