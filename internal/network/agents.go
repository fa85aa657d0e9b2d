package network

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// agentDownTime is upstream's agent_down_time: an agent whose last heartbeat is
// older is not alive.
const agentDownTime = 75 * time.Second

// agentTimeLayout is how upstream shows agent timestamps ("2017-09-12 19:40:38").
const agentTimeLayout = "2006-01-02 15:04:05"

// agentBody is an agent as stored; alive is computed when it is shown.
type agentBody struct {
	ID                 string         `json:"id"`
	AgentType          string         `json:"agent_type"`
	Binary             string         `json:"binary"`
	Host               string         `json:"host"`
	Topic              string         `json:"topic"`
	AdminStateUp       bool           `json:"admin_state_up"`
	Description        *string        `json:"description"`
	Configurations     map[string]any `json:"configurations"`
	CreatedAt          string         `json:"created_at"`
	StartedAt          string         `json:"started_at"`
	HeartbeatTimestamp string         `json:"heartbeat_timestamp"`
	AvailabilityZone   *string        `json:"availability_zone"`
	ResourceVersions   map[string]any `json:"resource_versions"`
}

// agentTopics are upstream's RPC topics of each agent type ("N/A" for those
// without one).
var agentTopics = map[string]string{"DHCP agent": "dhcp_agent", "L3 agent": "l3_agent"}

func (s *Service) agentRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.0/agents", Handler: s.listAgents},
		{Method: "GET", Path: "/v2.0/agents/{id}", Handler: s.showAgent},
		{Method: "PUT", Path: "/v2.0/agents/{id}", Handler: s.updateAgent},
		{Method: "DELETE", Path: "/v2.0/agents/{id}", Handler: s.deleteAgent},
	}
}

func (s *Service) agentJSON(a *agentBody) object {
	o := render(a)
	delete(o, "tags")
	alive := false
	if t, err := time.ParseInLocation(agentTimeLayout, a.HeartbeatTimestamp, time.UTC); err == nil {
		alive = s.now().Sub(t) <= agentDownTime
	}
	o["alive"] = alive
	o["ha_state"] = nil
	o["resources_synced"] = nil
	return o
}

// ReportAgent records an agent's heartbeat (upstream's report_state): the row of
// (agentType, host) is created or refreshed with the agent's binary and
// configurations. An agent that comes back after being down counts as restarted
// (started_at). The data-plane agents call it on every pass.
func (s *Service) ReportAgent(ctx context.Context, agentType, binary, host string, configurations map[string]any) error {
	if configurations == nil {
		configurations = map[string]any{}
	}
	// Round-trip the configurations so they compare with what the database holds.
	var conf map[string]any
	if err := jsonRoundTripString(marshal(configurations), &conf); err != nil {
		return err
	}
	now := s.now().UTC()
	stampNow := now.Format(agentTimeLayout)
	var changed bool
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		changed = false // from the start when the transaction runs again
		var id, raw string
		err := tx.QueryRowContext(ctx, `SELECT id, body FROM agents WHERE agent_type = ? AND host = ?`, agentType, host).Scan(&id, &raw)
		if db.IsNoRows(err) {
			a := &agentBody{ID: newUUID(), AgentType: agentType, Binary: binary, Host: host, Topic: "N/A",
				AdminStateUp: true, Configurations: conf, CreatedAt: stampNow, StartedAt: stampNow,
				HeartbeatTimestamp: stampNow, ResourceVersions: map[string]any{}}
			if t, ok := agentTopics[agentType]; ok {
				a.Topic = t
			}
			if agentType == "DHCP agent" || agentType == "L3 agent" { // as upstream: the agents that schedule by zone
				zone := "nova"
				a.AvailabilityZone = &zone
			}
			changed = true
			// A concurrent first report conflicts on (agent_type, host): on PostgreSQL
			// a serialization failure, and db.InTx runs this one again, which then
			// finds the row and updates it.
			inserted, err := insertedOne(tx.ExecContext(ctx, `INSERT INTO agents (id, agent_type, host, heartbeat_at, body)
				VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, a.ID, agentType, host, stampNow, marshal(a)))
			if err == nil && !inserted {
				err = fmt.Errorf("agent %s of %s: row appeared during the report", agentType, host)
			}
			return err
		}
		if err != nil {
			return err
		}
		var a agentBody
		if err := json.Unmarshal([]byte(raw), &a); err != nil {
			return err
		}
		if last, err := time.ParseInLocation(agentTimeLayout, a.HeartbeatTimestamp, time.UTC); err != nil || now.Sub(last) > agentDownTime {
			a.StartedAt = stampNow
			changed = true
		}
		if !reflect.DeepEqual(a.Configurations, conf) || a.Binary != binary {
			changed = true
		}
		a.Binary, a.Configurations, a.HeartbeatTimestamp = binary, conf, stampNow
		_, err = tx.ExecContext(ctx, `UPDATE agents SET heartbeat_at = ?, body = ? WHERE id = ?`, stampNow, marshal(&a), id)
		return err
	})
	if err == nil && changed {
		// A new agent or new configurations (a VTEP address) change other hosts'
		// desired state; a plain heartbeat does not, so it wakes nobody.
		s.Changed()
	}
	return err
}

// Agents are admin's (upstream's get_agent); to others the list is empty and an
// agent answers 404, as upstream hides what policy does not let one see.
func (s *Service) visibleAgent(ctx context.Context, c caller, q db.Querier, id string) (*agentBody, error) {
	var a agentBody
	if err := loadBody(ctx, q, "agents", id, &a); err != nil {
		return nil, notFoundIfNoRows(err, "AgentNotFound", "Agent", id)
	}
	if !s.allowed(c, "get_agent", nil) {
		return nil, notFound("AgentNotFound", "Agent", id)
	}
	return &a, nil
}

func (s *Service) listAgents(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	var out []object
	if s.allowed(c, "get_agent", nil) {
		agents, err := loadBodies[agentBody](r.Context(), s.db, `SELECT body FROM agents`)
		if err != nil {
			return httpapi.Response{}, err
		}
		for i := range agents {
			out = append(out, s.agentJSON(&agents[i]))
		}
	}
	return listResponse(r, "agents", out)
}

func (s *Service) showAgent(r *http.Request) (httpapi.Response, error) {
	a, err := s.visibleAgent(r.Context(), s.caller(r), s.db, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return showResponse(r, "agent", s.agentJSON(a)), nil
}

// agentAttributes are neutron-lib's api/definitions/agent.py: an update may set
// admin_state_up and description; the rest is read-only. (Availability zone,
// resource versions and the others come from extensions of their own.)
var agentAttributes = slices.Concat(attributeMap{
	{name: "admin_state_up", put: true, convert: toBoolean},
	{name: "description", put: true, validate: validStringOrNone(descriptionFieldSize)},
}, readOnly("id", "agent_type", "binary", "topic", "host", "created_at", "started_at", "heartbeat_timestamp",
	"alive", "configurations", "availability_zone", "resource_versions", "ha_state", "resources_synced"))

func (s *Service) updateAgent(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	attrs, err := parseBody(r, "agent", agentAttributes, false)
	if err != nil {
		return httpapi.Response{}, err
	}
	var a *agentBody
	err = s.inTx(r.Context(), func(tx *db.Tx) error {
		if a, err = s.visibleAgent(r.Context(), c, tx, r.PathValue("id")); err != nil {
			return err
		}
		if err := s.enforce(c, "update_agent", nil); err != nil {
			return err
		}
		if err := attrBool(attrs, "admin_state_up", &a.AdminStateUp); err != nil {
			return err
		}
		if v, ok := attrs["description"]; ok {
			if v == nil {
				a.Description = nil
			} else {
				var d string
				if err := attrString(attrs, "description", &d); err != nil {
					return err
				}
				a.Description = &d
			}
		}
		return saveBody(r.Context(), tx, "agents", a.ID, a)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"agent": s.agentJSON(a)}), nil
}

func (s *Service) deleteAgent(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	err := s.inTx(r.Context(), func(tx *db.Tx) error {
		a, err := s.visibleAgent(r.Context(), c, tx, r.PathValue("id"))
		if err != nil {
			return err
		}
		if err := s.enforce(c, "delete_agent", nil); err != nil {
			return err
		}
		_, err = tx.ExecContext(r.Context(), `DELETE FROM agents WHERE id = ?`, a.ID)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}
