package compact

import "errors"

var (
	errStaleRatio = errors.New("compact: stale ratio must be between 0 and 1")
	errInterval   = errors.New("compact: minimum interval must not be negative")
)
