package server

import (
	"fmt"
	"testing"
)

// BenchmarkFeedArgumentPerRead feeds the event loop's reader one request
// of many arguments, one argument per read, as a client that sends each
// argument in a packet of its own makes it. The reader must not parse the
// request from its start at every read: what it costs per argument must
// not grow with the arguments before it. b.N counts arguments.
func BenchmarkFeedArgumentPerRead(b *testing.B) {
	for _, args := range []int{1 << 10, 1 << 14} {
		b.Run(fmt.Sprintf("args=%d", args), func(b *testing.B) {
			opts := Options{}.withDefaults()
			head := fmt.Appendf(nil, "*%d\r\n", args)
			arg := []byte("$1\r\nx\r\n")
			b.ResetTimer()
			for n := 0; n < b.N; n += args {
				rd := newReqReader(nil)
				rd.limits = &opts
				pending := append([]byte(nil), head...)
				read := func(p []byte) (int, error) {
					k := copy(p, pending)
					pending = pending[k:]
					return k, nil
				}
				got := 0
				for range args {
					pending = append(pending, arg...)
					for len(pending) > 0 {
						cmds, err := rd.feed(read)
						if err != nil {
							b.Fatal(err)
						}
						got += len(cmds)
					}
				}
				if got != 1 {
					b.Fatalf("%d requests, want 1", got)
				}
			}
		})
	}
}
