// Package scheduler is Nova's filter scheduler as a pure library: it filters
// and weighs a snapshot of compute host states for a request and returns the
// passing hosts best first, so that the compute service can claim resources
// on the first one and fall back to the next when its claim loses a race.
//
// It holds no state, talks to no database and starts no goroutines, and it
// only reads its arguments, so concurrent calls are safe. The
// caller loads HostStates, calls Select (or SelectBatch for a multi-instance
// request) and re-checks its claim with Fits inside its own transaction.
//
// Semantics follow upstream nova/scheduler/filters/*.py and
// nova/scheduler/weights/*.py; where they are surprising the code says so.
package scheduler
