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
// twice, from memory to io.Discard: the copy's own work per record,
// without the file system's. MB/s is the old log's size. In dead-half, the
// first half of the log is the dead puts, as after a bulk overwrite; in
// interleaved, each dead put is followed by the live one.
func BenchmarkCopy(b *testing.B) {
	for _, layout := range []string{"dead-half", "interleaved"} {
		b.Run(layout, func(b *testing.B) { benchmarkCopy(b, layout == "interleaved") })
	}
}

func benchmarkCopy(b *testing.B, interleaved bool) {
	const n = 1_000_000
	log := walfmt.AppendHeader(nil)
	value := bytes.Repeat([]byte{'v'}, 100)
	live := make([]int64, 0, n)
	put := func(i int, isLive bool) {
		if isLive {
			live = append(live, int64(len(log)))
		}
		log = walfmt.AppendPut(log, fmt.Appendf(nil, "key%013d", i), value)
	}
	if interleaved {
		for i := range n {
			put(i, false)
			put(i, true)
		}
	} else {
		for round := range 2 {
			for i := range n {
				put(i, round == 1)
			}
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
