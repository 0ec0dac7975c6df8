package kv

// A log file may end in zeros: the space a writer reserves past its last
// record (up to 64 MiB, see reserveLocked), which a crash leaves in place.
// A replay must know that they are zeros to tell the log's clean end from
// damage, and reading them cost a replay of 2 GiB after a kill about a
// third of its CPU time: the pieces read in parallel looked for records in
// them, and each reader that reached the end read them again to the end.
// So a writable Open finds where they begin once — from the file system's
// holes, where it reports them (the reserved space a writer never wrote
// is one), then by reading back from there over any zeros written — and
// tells the readers (walfmt.Reader.SetZerosFrom).

// zeroTailStep is how much trailingZeros reads at a time.
const zeroTailStep = 1 << 20

// trailingZeros returns an offset from which the first size bytes of f
// are zeros to the end, from at the earliest: size if it cannot tell.
func trailingZeros(f File, from, size int64) int64 {
	end := holeTail(f, from, size)
	b := make([]byte, min(zeroTailStep, max(end-from, 0)))
	for end > from {
		n := min(end-from, zeroTailStep)
		if _, err := f.ReadAt(b[:n], end-n); err != nil {
			return end
		}
		for i := n - 1; i >= 0; i-- {
			if b[i] != 0 {
				return end - n + i + 1
			}
		}
		end -= n
	}
	return from
}
