package volume

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// serviceDownTime is upstream's service_down_time: a volume service whose
// last heartbeat is older is down, and the scheduler passes it by.
const serviceDownTime = 60 * time.Second

// poolState is one pool the scheduler may place a volume in, as upstream's
// host_manager.PoolState: the backend's reported capabilities and what the
// database says is allocated there since.
type poolState struct {
	Host             string // host@backend#pool
	AvailabilityZone string
	Capabilities     map[string]any // the backend's keys and the pool's
	Pool             pool
	AllocatedGB      float64
}

// scheduleRequest is what one volume needs of a pool.
type scheduleRequest struct {
	SizeGB           int
	AvailabilityZone string
	ExtraSpecs       map[string]string
}

// pools reads the pools of every volume service up and enabled.
func pools(ctx context.Context, q db.Querier, now time.Time) ([]poolState, error) {
	type row struct {
		host, az, caps, heartbeat string
		disabled                  bool
	}
	rows, err := db.QueryAll(ctx, q, func(sc db.Scanner) (row, error) {
		var r row
		err := sc.Scan(&r.host, &r.az, &r.caps, &r.heartbeat, &r.disabled)
		return r, err
	}, `SELECT host, availability_zone, capabilities, heartbeat_at, disabled FROM volume_services
		WHERE binary_name = 'cinder-volume' ORDER BY host`)
	if err != nil {
		return nil, err
	}
	var out []poolState
	for _, r := range rows {
		beat, err := time.Parse(time.RFC3339Nano, r.heartbeat)
		if r.disabled || err != nil || now.Sub(beat) > serviceDownTime {
			continue
		}
		var caps capabilities
		var raw map[string]any
		if json.Unmarshal([]byte(r.caps), &caps) != nil || json.Unmarshal([]byte(r.caps), &raw) != nil {
			continue
		}
		delete(raw, "pools")
		for _, p := range caps.Pools {
			merged := map[string]any{}
			for k, v := range raw {
				merged[k] = v
			}
			var pm map[string]any
			data, _ := json.Marshal(p)
			_ = json.Unmarshal(data, &pm)
			for k, v := range pm {
				merged[k] = v
			}
			ps := poolState{Host: r.host + "#" + p.PoolName, AvailabilityZone: r.az, Capabilities: merged, Pool: p}
			if err := q.QueryRowContext(ctx, `SELECT COALESCE(SUM(CASE WHEN target_size IS NOT NULL AND target_size > size
				THEN target_size ELSE size END), 0) FROM volumes WHERE host = ?`, ps.Host).Scan(&ps.AllocatedGB); err != nil {
				return nil, err
			}
			out = append(out, ps)
		}
	}
	return out, nil
}

// schedule is the filter scheduler with upstream's default filters
// (AvailabilityZoneFilter, CapacityFilter, CapabilitiesFilter) and the
// capacity weigher: the pool with the most free (virtual) capacity wins, the
// host name breaking ties so the choice is stable. No pool is NoValidBackend.
func schedule(candidates []poolState, req scheduleRequest) (string, error) {
	type weighed struct {
		host   string
		weight float64
	}
	var passed []weighed
	for _, p := range candidates {
		if req.AvailabilityZone != "" && p.AvailabilityZone != req.AvailabilityZone {
			continue
		}
		if !capacityPasses(p, req.SizeGB) || !capabilitiesPass(p.Capabilities, req.ExtraSpecs) {
			continue
		}
		passed = append(passed, weighed{p.Host, freeWeight(p)})
	}
	if len(passed) == 0 {
		return "", fmt.Errorf("No valid backend was found. No weighed backends available")
	}
	sort.Slice(passed, func(i, j int) bool {
		if passed[i].weight != passed[j].weight {
			return passed[i].weight > passed[j].weight
		}
		return passed[i].host < passed[j].host
	})
	return passed[0].host, nil
}

// provisioned is what the pool holds: the larger of what it reported and
// what the database has placed there (newer than the last heartbeat).
func provisioned(p poolState) float64 { return math.Max(p.Pool.ProvisionedCapacityGB, p.AllocatedGB) }

// capacityPasses is CapacityFilter: thin pools within their
// max_over_subscription_ratio, thick pools within their free space, both
// less the reserved percentage.
func capacityPasses(p poolState, size int) bool {
	total := p.Pool.TotalCapacityGB
	free := math.Min(p.Pool.FreeCapacityGB, total-provisioned(p))
	reserved := math.Floor(total * p.Pool.ReservedPercentage / 100)
	if total <= 0 {
		return false
	}
	if p.Pool.ThinProvisioningSupport {
		ratio := p.Pool.MaxOverSubscriptionRatio
		if ratio < 1 {
			ratio = 1
		}
		if (provisioned(p)+float64(size))/total > ratio {
			return false
		}
		return (total*ratio - provisioned(p) - reserved) >= float64(size)
	}
	return free-reserved >= float64(size)
}

// freeWeight is the capacity weigher's free capacity (virtual for thin pools).
func freeWeight(p poolState) float64 {
	total := p.Pool.TotalCapacityGB
	reserved := math.Floor(total * p.Pool.ReservedPercentage / 100)
	if p.Pool.ThinProvisioningSupport {
		ratio := math.Max(p.Pool.MaxOverSubscriptionRatio, 1)
		return total*ratio - provisioned(p) - reserved
	}
	return math.Min(p.Pool.FreeCapacityGB, total-provisioned(p)) - reserved
}

// capabilitiesPass is CapabilitiesFilter: every extra spec unscoped or scoped
// "capabilities:" must match the pool's capability of that name with
// extra_specs_ops; other scopes (vendor's, RESKEY:) are not the filter's.
func capabilitiesPass(caps map[string]any, specs map[string]string) bool {
	for key, req := range specs {
		scope := strings.Split(key, ":")
		if len(scope) > 1 && scope[0] != "capabilities" {
			continue
		}
		if scope[0] == "capabilities" {
			scope = scope[1:]
		}
		var cap any = caps
		for _, part := range scope {
			m, ok := cap.(map[string]any)
			if !ok {
				return false
			}
			if cap, ok = m[part]; !ok {
				return false
			}
		}
		values, ok := cap.([]any)
		if !ok {
			values = []any{cap}
		}
		matched := false
		for _, v := range values {
			if specMatches(v, req) {
				matched = true
				break
			}
		}
		if !matched {
			return false
		}
	}
	return true
}

// specMatches is extra_specs_ops.match: an operator word ("<is>", "<in>",
// "<or>", ">=", "s==", ...) then its operand, else plain equality.
func specMatches(value any, req string) bool {
	words := strings.Fields(req)
	if len(words) == 0 {
		return pyEqual(value, req)
	}
	op := words[0]
	rest := words[1:]
	num := func(x any) (float64, bool) {
		switch n := x.(type) {
		case float64:
			return n, true
		case string:
			f, err := strconv.ParseFloat(n, 64)
			return f, err == nil
		case bool:
			if n {
				return 1, true
			}
			return 0, true
		}
		return 0, false
	}
	str := func(x any) string {
		switch n := x.(type) {
		case string:
			return n
		case bool:
			return map[bool]string{true: "True", false: "False"}[n]
		case float64:
			return strconv.FormatFloat(n, 'f', -1, 64)
		}
		return fmt.Sprint(x)
	}
	numeric := map[string]func(a, b float64) bool{
		"=": func(a, b float64) bool { return a >= b }, "==": func(a, b float64) bool { return a == b },
		"!=": func(a, b float64) bool { return a != b }, ">=": func(a, b float64) bool { return a >= b },
		"<=": func(a, b float64) bool { return a <= b },
	}
	stringOps := map[string]func(a, b string) bool{
		"s==": func(a, b string) bool { return a == b }, "s!=": func(a, b string) bool { return a != b },
		"s<": func(a, b string) bool { return a < b }, "s<=": func(a, b string) bool { return a <= b },
		"s>": func(a, b string) bool { return a > b }, "s>=": func(a, b string) bool { return a >= b },
	}
	switch {
	case op == "<or>":
		if value == nil {
			return false
		}
		for i := 0; i < len(rest); i += 2 {
			if rest[i] == str(value) {
				return true
			}
		}
		return false
	case op == "<in>":
		return value != nil && len(rest) > 0 && strings.Contains(str(value), rest[0])
	case op == "<is>":
		if value == nil || len(rest) == 0 {
			return false
		}
		a, ok1 := boolFromString(str(value))
		b, ok2 := boolFromString(rest[0])
		return ok1 == ok2 && a == b || !ok1 && !ok2
	case numeric[op] != nil:
		if value == nil || len(rest) == 0 {
			return false
		}
		a, ok1 := num(value)
		b, ok2 := num(rest[0])
		return ok1 && ok2 && numeric[op](a, b)
	case stringOps[op] != nil:
		return value != nil && len(rest) > 0 && stringOps[op](str(value), rest[0])
	}
	return pyEqual(value, req)
}

// pyEqual is Python's value == req for a capability and a spec string: only
// a string capability can equal it.
func pyEqual(value any, req string) bool {
	s, ok := value.(string)
	return ok && s == req
}
