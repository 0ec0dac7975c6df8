package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"testing"
	"testing/iotest"

	"github.com/tidwall/redcon"
)

// readAll returns every request's arguments that next yields, quoted, and
// whether it ended cleanly (at io.EOF) rather than with a protocol error.
func readAll(next func() ([]redcon.Command, error)) (reqs []string, clean bool) {
	for range 10_000 {
		cmds, err := next()
		for _, cmd := range cmds {
			reqs = append(reqs, fmt.Sprintf("%q", cmd.Args))
		}
		if err != nil {
			return reqs, errors.Is(err, io.EOF)
		}
	}
	return reqs, false
}

// hugeCount matches an array or bulk length of five digits or more.
var hugeCount = regexp.MustCompile(`[*$][0-9]{5,}`)

// notAsRedcon matches the headers reqReader reads as Redis does and
// redcon's Reader does not (TestHeadersAsRedis): a count of zero or less,
// which Redis skips, and a number with a plus sign, a leading zero or
// "-0", which Redis refuses.
var notAsRedcon = regexp.MustCompile(`\*[-+0]|\$(\+|-0|0[0-9])`)

// FuzzReqReader reads a byte stream, delivered a byte at a time, with
// reqReader and with redcon's Reader: both must find the same requests,
// and fail or not alike.
func FuzzReqReader(f *testing.F) {
	for _, seed := range []string{
		"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n*1\r\n$4\r\nPING\r\n",
		"PING\r\nSET k \"a b\"\r\n   \r\nGET k\n",
		"*0\r\n", "*-1\r\n", "*1\r\n$-1\r\n", "*1\r\n$2\r\nab\n\n", "*1\r\n:1\r\n", "*x\r\n",
		"*1\r\n$3\r\nabc\r\n*1\r\n$3\r\nab", "SET k \"unbalanced\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if hugeCount.Match(in) {
			// Unguarded, redcon's reader, the reference here, works
			// through a long count a byte at a time, for as long as the
			// count: too slow to fuzz. TestParseLimitsMatchGuard feeds
			// long counts and lengths to the reader and the guard.
			t.Skip("a count too long for the reference reader")
		}
		if notAsRedcon.Match(in) {
			t.Skip("a header the reference reader does not read as Redis")
		}
		want := redcon.NewReader(iotest.OneByteReader(bytes.NewReader(in)))
		wantReqs, wantClean := readAll(want.ReadCommands)
		got := newReqReader(iotest.OneByteReader(bytes.NewReader(in)))
		var gotReqs []string
		gotClean := false
		gotReqs, gotClean = readAll(got.read)
		if fmt.Sprint(gotReqs) != fmt.Sprint(wantReqs) || gotClean != wantClean {
			t.Fatalf("reqReader: %v, clean end %v; redcon: %v, clean end %v", gotReqs, gotClean, wantReqs, wantClean)
		}
	})
}

// splitBy cuts in into chunks of 1+sizes[i] bytes, the rest whole.
func splitBy(in, sizes []byte) [][]byte {
	var out [][]byte
	for i := 0; len(in) > 0; i++ {
		k := len(in)
		if i < len(sizes) {
			k = min(k, 1+int(sizes[i]))
		}
		out = append(out, in[:k])
		in = in[k:]
	}
	return out
}

// modeOpts are limits small enough for a fuzzer to break.
var modeOpts = Options{MaxBulkLen: 20, MaxArgs: 4, MaxRequestBytes: 60}

// viaGuard reads chunks as a goroutine-mode client (see readAll).
func viaGuard(chunks [][]byte) ([]string, bool) {
	opts := modeOpts
	return readAll(newReqReader(&guardConn{Conn: &chunkConn{chunks: chunks}, opts: &opts}).read)
}

// viaFeed reads chunks as the event loop reads a client.
func viaFeed(chunks [][]byte) ([]string, bool) {
	opts := modeOpts
	r := newReqReader(nil)
	r.limits = &opts
	cc := &chunkConn{chunks: chunks}
	return readAll(func() ([]redcon.Command, error) { return r.feed(cc.Read) })
}

// FuzzReaderModesAgree: the goroutine mode's guard and reader, and the
// event loop's feed, which checks the limits itself, given a stream whole
// and split however the fuzzer likes, return the same requests before
// they stop (at its end, or at a request that breaks the protocol or a
// limit).
func FuzzReaderModesAgree(f *testing.F) {
	for _, s := range []string{
		"*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$21\r\n",
		"PING\r\n*5\r\n", "*1\r\n$4\r\nPING\r\n*x\r\n", "GET a\r\n*1\r\n:1\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$20\r\n01234567890123456789\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$20\r\n",
		"*1\r\n$4\r\nPING\r\n*1\r\n$" + "1111111111111111111111111111111111111",
		"*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n", "PING\r\n*0\r\nPING\r\n",
		"PING\r\n*2\r\n$3\r\nGET\r\n$21\r\n012345678901234567890\r\nPING\r\n", // a whole request over the limit
	} {
		f.Add([]byte(s), []byte{3, 0, 7, 1})
	}
	f.Fuzz(func(t *testing.T, in, sizes []byte) {
		if len(in) > 4000 {
			return
		}
		whole := [][]byte{append([]byte(nil), in...)}
		gw, ge := viaGuard(whole)
		fw, fe := viaFeed([][]byte{append([]byte(nil), in...)})
		gs, gse := viaGuard(splitBy(append([]byte(nil), in...), sizes))
		fs, fse := viaFeed(splitBy(append([]byte(nil), in...), sizes))
		a, b, c, d := fmt.Sprint(gw), fmt.Sprint(fw), fmt.Sprint(gs), fmt.Sprint(fs)
		if a != b || a != c || a != d {
			t.Fatalf("in %q sizes %v (clean end or not after each)\nguard whole %v %v\nfeed whole  %v %v\nguard split %v %v\nfeed split  %v %v", in, sizes, a, ge, b, fe, c, gse, d, fse)
		}
	})
}
