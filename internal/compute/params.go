package compute

import (
	"strconv"

	"github.com/google/uuid"
)

// pageLimit parses a limit query parameter ("" is no limit).
func pageLimit(v string) (int, error) {
	if v == "" {
		return -1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, badRequest("Invalid input for query parameters limit. Value: %s. '%s' does not match '^[0-9]*$'", v, v)
	}
	return n, nil
}

// isUUID is upstream's uuid format check (ids from 2.37 and 2.53 on, ports, networks).
func isUUID(v string) bool { return uuid.Validate(v) == nil }
