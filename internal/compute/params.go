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

// isUUID is what upstream's 2.53 paths take for a service or hypervisor id.
func isUUID(v string) bool {
	_, err := uuid.Parse(v)
	return err == nil
}
