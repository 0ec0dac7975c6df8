package compact

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/crabkv/crabkv/walfmt"
)

// BenchmarkCopy copies a log of a million 100-byte values, each key put
// twice (the first half of the log dead), from memory to io.Discard: the
// copy's own work per record, without the file system's. MB/s is the old
// log's size.
func BenchmarkCopy(b *testing.B) {
	const n = 1_000_000
	log := walfmt.AppendHeader(nil)
	value := bytes.Repeat([]byte{'v'}, 100)
	live := make([]int64, 0, n)
	for round := range 2 {
		for i := range n {
			if round == 1 {
				live = append(live, int64(len(log)))
			}
			log = walfmt.AppendPut(log, fmt.Appendf(nil, "key%013d", i), value)
		}
	}
	src := Source{R: bytes.NewReader(log), Name: "bench", Start: walfmt.HeaderSize, End: int64(len(log)), Live: live}
	hdr := walfmt.NewFileHeader()
	var moved int
	b.SetBytes(int64(len(log)))
	b.ResetTimer()
	for range b.N {
		if _, err := Copy(context.Background(), io.Discard, src, hdr, nil, func([]byte, int64, int64, int) { moved++ }, nil); err != nil {
			b.Fatal(err)
		}
	}
}
