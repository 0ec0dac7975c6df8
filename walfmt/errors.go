package walfmt

import (
	"errors"
	"fmt"
)

var (
	// ErrCorrupt is wrapped by every CorruptionError that describes damage
	// in the middle of a log: an invalid record with valid data after it.
	ErrCorrupt = errors.New("walfmt: corrupt log")
	// ErrTornTail is wrapped by a CorruptionError that describes an
	// incomplete or invalid last record with nothing valid after it: the
	// trace of a crash during an append.
	ErrTornTail = errors.New("walfmt: torn tail")
	// ErrForeignFile means the file does not start with a CrabKv header.
	ErrForeignFile = errors.New("walfmt: not a CrabKv log (bad file header)")
	// ErrVersion is wrapped by VersionError.
	ErrVersion = errors.New("walfmt: unsupported format version")
)

// CorruptionError describes an invalid record: where it is and why. It
// unwraps to ErrCorrupt or ErrTornTail.
type CorruptionError struct {
	// File is the log's path, when the reader was given one.
	File string
	// Offset is the byte offset of the first invalid record.
	Offset int64
	// Reason says what is wrong with it.
	Reason string
	// Torn is true when nothing valid follows: the damage is a torn tail.
	Torn bool
}

func (e *CorruptionError) Error() string {
	what := "corrupt record"
	if e.Torn {
		what = "torn tail"
	}
	name := e.File
	if name == "" {
		name = "log"
	}
	return fmt.Sprintf("walfmt: %s: %s at offset %d: %s", name, what, e.Offset, e.Reason)
}

// Unwrap returns ErrTornTail or ErrCorrupt.
func (e *CorruptionError) Unwrap() error {
	if e.Torn {
		return ErrTornTail
	}
	return ErrCorrupt
}

// VersionError reports a log written in a format version this package does
// not read. It unwraps to ErrVersion.
type VersionError struct {
	Version uint16
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("walfmt: log format version %d is not supported (this build reads version %d)", e.Version, Version)
}

// Unwrap returns ErrVersion.
func (e *VersionError) Unwrap() error { return ErrVersion }
