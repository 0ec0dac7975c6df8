// Package keys generates the benchmark's keys and values deterministically,
// so that a child process can address key number i without holding a list
// of keys in memory (which would distort heap measurements).
package keys

import (
	"math/rand/v2"
)

const (
	// KeySize is the length of every key: 16 lowercase hex digits.
	KeySize = 16
	// ValueSize is the length of every value.
	ValueSize = 100
)

// mix is the splitmix64 finaliser. Each step (xor-shift, multiply by an odd
// constant) is invertible, so mix is a bijection on uint64: distinct indexes
// always give distinct keys, and consecutive indexes land far apart in key
// order, which makes a sequential loop over i a random-order fill.
func mix(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	z ^= z >> 31
	return z
}

const hexDigits = "0123456789abcdef"

// Append appends key number i to dst and returns the extended slice.
func Append(dst []byte, i uint64) []byte {
	x := mix(i)
	for shift := 60; shift >= 0; shift -= 4 {
		dst = append(dst, hexDigits[(x>>uint(shift))&0xf])
	}
	return dst
}

// Values hands out 100-byte values cut from a block of random bytes. The
// bytes are incompressible, so engines that compress gain nothing from it
// and engines that do not are not penalised. A Values is read-only after
// NewValues and safe for concurrent use.
type Values struct {
	buf []byte
}

// NewValues returns a value source seeded with seed.
func NewValues(seed uint64) *Values {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	return &Values{buf: buf}
}

// For returns value number i (version gen). The result aliases an internal
// buffer and must not be modified.
func (v *Values) For(i, gen uint64) []byte { return v.ForSize(i, gen, ValueSize) }

// ForSize is For for values of size bytes, at most MaxValueSize.
func (v *Values) ForSize(i, gen uint64, size int) []byte {
	off := mix(i^gen<<48) % uint64(len(v.buf)-size)
	return v.buf[off : off+uint64(size)]
}

// MaxValueSize is the largest value ForSize cuts.
const MaxValueSize = 256 << 10

// Zipf draws key indexes in [0, n) with a Zipf distribution: index 0 is the
// most popular, index 1 the next, and so on. Because keys are scattered by
// mix, the hot keys are spread over the key space, as YCSB's scrambled
// zipfian does. A Zipf is not safe for concurrent use; give each goroutine
// its own.
type Zipf struct {
	z *rand.Zipf
}

// ZipfS is the skew used for the YCSB-like mix. YCSB uses a constant of
// 0.99, but math/rand/v2 requires s > 1; 1.1 is the closest common choice
// and concentrates roughly half of the accesses on the hottest few hundred
// keys out of 200,000.
const ZipfS = 1.1

// NewZipf returns a generator over [0, n) with skew s (> 1), seeded with seed.
// It returns nil if n is zero or s <= 1.
func NewZipf(seed uint64, n uint64, s float64) *Zipf {
	if n == 0 {
		return nil
	}
	z := rand.NewZipf(rand.New(rand.NewPCG(seed, 0x21ff)), s, 1, n-1)
	if z == nil {
		return nil
	}
	return &Zipf{z: z}
}

// Next returns the next key index.
func (z *Zipf) Next() uint64 { return z.z.Uint64() }
