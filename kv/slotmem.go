package kv

// scratchElem is what the arrays of slotmem_unix.go (and slotmem_other.go)
// may hold: types without Go pointers, since the garbage collector does
// not look into a map of the system's.
type scratchElem interface {
	slot | int64 | uint64 | keyPrefix
}
