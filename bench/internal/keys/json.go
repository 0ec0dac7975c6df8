package keys

import (
	"fmt"
	"math/rand/v2"
	"strconv"
)

// JSONSize is the approximate size of a JSONDocs value.
const JSONSize = 1024

var (
	jsonNames   = []string{"ada", "grace", "linus", "barbara", "ken", "margaret", "dennis", "frances", "edsger", "radia"}
	jsonCities  = []string{"Lisbon", "Osaka", "Nairobi", "Montréal", "Reykjavík", "Tbilisi", "Lima", "Perth"}
	jsonRoles   = []string{"admin", "editor", "viewer", "billing", "support"}
	jsonActions = []string{"login", "logout", "view", "edit", "export", "invite", "pay"}
)

// JSONDocs hands out compressible values: JSON documents of about JSONSize
// bytes, a user record like the demo data set's (crabkv demo) followed by
// a list of recent events, as an application would store them. Each is
// generated from its number and version, and every document differs from
// the others. Prepare generates the first n version-0 documents ahead, so
// that a timed workload measures the engine, not the generator (about
// 20 µs a document); For then returns them from memory, safely from
// several goroutines. Any other document is generated on the spot, into
// one buffer: not safe for concurrent use.
type JSONDocs struct {
	seed  uint64
	buf   []byte
	ready []byte // documents [0, len(ends)) of version 0, back to back
	ends  []int  // ends[i] is where document i ends in ready
}

// Prepare generates documents [0, n) of version 0 ahead of use.
func (d *JSONDocs) Prepare(n int) {
	d.ready, d.ends = make([]byte, 0, n*JSONSize), make([]int, 0, n)
	for i := range n {
		d.ready = append(d.ready, d.generate(uint64(i), 0)...)
		d.ends = append(d.ends, len(d.ready))
	}
}

// NewJSONDocs returns a document source seeded with seed.
func NewJSONDocs(seed uint64) *JSONDocs { return &JSONDocs{seed: seed} }

// For returns document number i (version gen). The result must not be
// modified; unless Prepare made it, it is valid until the next call.
func (d *JSONDocs) For(i, gen uint64) []byte {
	if gen == 0 && i < uint64(len(d.ends)) {
		start := 0
		if i > 0 {
			start = d.ends[i-1]
		}
		return d.ready[start:d.ends[i]:d.ends[i]]
	}
	return d.generate(i, gen)
}

// generate builds document number i (version gen) into d.buf.
func (d *JSONDocs) generate(i, gen uint64) []byte {
	r := rand.New(rand.NewPCG(d.seed^mix(i), gen))
	name := jsonNames[r.IntN(len(jsonNames))]
	b := d.buf[:0]
	b = fmt.Appendf(b, `{"id":%d,"name":"%s %c.","email":"%s%d@example.org","city":"%s","roles":["%s","%s"],"active":%t,"balance":%d.%02d,"events":[`,
		i, name, 'A'+rune(r.IntN(26)), name, i, jsonCities[r.IntN(len(jsonCities))],
		jsonRoles[r.IntN(len(jsonRoles))], jsonRoles[r.IntN(len(jsonRoles))], r.IntN(5) > 0, r.IntN(10000), r.IntN(100))
	for n := 0; len(b) < JSONSize-100; n++ {
		if n > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"at":"2025-%02d-%02dT%02d:%02d:%02dZ","action":"%s","city":"%s","ok":%t,"ms":%d}`,
			1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60),
			jsonActions[r.IntN(len(jsonActions))], jsonCities[r.IntN(len(jsonCities))], r.IntN(9) > 0, r.IntN(2000))
	}
	b = append(b, `],"version":`...)
	b = strconv.AppendUint(b, gen, 10)
	b = append(b, '}')
	d.buf = b
	return b
}
