package swob

// Explanation is the sentence swob's RESPONSE_REASONS gives a status ("" for
// statuses without one), as heartbeat bodies quote it.
func Explanation(status int) string { return reasons[status][1] }
