package compact

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/crabkv/crabkv/walfmt"
)

func TestRewriteKeepsOnlyLive(t *testing.T) {
	log := walfmt.AppendHeader(nil)
	type at struct {
		key string
		off int64
	}
	latest := map[string]int64{}
	for _, kv := range [][2]string{{"a", "1"}, {"b", "2"}, {"a", "3"}, {"c", "4"}} {
		latest[kv[0]] = int64(len(log))
		log = walfmt.AppendPut(log, []byte(kv[0]), []byte(kv[1]))
	}
	delete(latest, "c")
	log = walfmt.AppendDelete(log, []byte("c"))

	var out bytes.Buffer
	var moved []at
	var progress []int64
	src := walfmt.NewReader(bytes.NewReader(log), int64(len(log)), "")
	res, err := Rewrite(context.Background(), &out, src, walfmt.NewFileHeader(),
		func(key []byte, off int64) (bool, error) { o, ok := latest[string(key)]; return ok && o == off, nil },
		func(key []byte, _, off int64, size int) { moved = append(moved, at{string(key), off}) },
		func(done int64) { progress = append(progress, done) })
	if err != nil {
		t.Fatal(err)
	}
	if res.Kept != 2 || res.Dropped != 3 || res.Bytes != int64(out.Len()) {
		t.Fatalf("result %+v, output %d bytes", res, out.Len())
	}
	if len(progress) == 0 || progress[len(progress)-1] != int64(len(log)) {
		t.Fatalf("progress %v, want to end at %d", progress, len(log))
	}
	r := walfmt.NewReader(bytes.NewReader(out.Bytes()), int64(out.Len()), "")
	var got []string
	for i := 0; ; i++ {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if moved[i].off != rec.Offset || moved[i].key != string(rec.Key) {
			t.Fatalf("moved %+v, record at %d", moved[i], rec.Offset)
		}
		got = append(got, string(rec.Key)+"="+string(rec.Value))
	}
	if len(got) != 2 || got[0] != "b=2" || got[1] != "a=3" {
		t.Fatalf("new log holds %v", got)
	}
}

func TestRewriteStopsOnCancel(t *testing.T) {
	log := walfmt.AppendHeader(nil)
	value := bytes.Repeat([]byte("v"), 4096)
	for range 200 { // 800 KiB: several progress steps
		log = walfmt.AppendPut(log, []byte("k"), value)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	src := walfmt.NewReader(bytes.NewReader(log), int64(len(log)), "")
	_, err := Rewrite(ctx, io.Discard, src, walfmt.NewFileHeader(),
		func([]byte, int64) (bool, error) { return true, nil }, func([]byte, int64, int64, int) {}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestRewriteReportsCorruption(t *testing.T) {
	log := walfmt.AppendHeader(nil)
	log = walfmt.AppendPut(log, []byte("a"), []byte("1"))
	log = walfmt.AppendPut(log, []byte("b"), []byte("2"))
	log[walfmt.HeaderSize+5] = 0x80 // unknown flag in the first record
	src := walfmt.NewReader(bytes.NewReader(log), int64(len(log)), "")
	_, err := Rewrite(context.Background(), io.Discard, src, walfmt.NewFileHeader(),
		func([]byte, int64) (bool, error) { return true, nil }, func([]byte, int64, int64, int) {}, nil)
	if !errors.Is(err, walfmt.ErrCorrupt) {
		t.Fatalf("got %v, want ErrCorrupt", err)
	}
}

func TestRewriteStopsWhenLivenessUnknown(t *testing.T) {
	log := walfmt.AppendHeader(nil)
	log = walfmt.AppendPut(log, []byte("a"), []byte("1"))
	errRead := errors.New("read error")
	src := walfmt.NewReader(bytes.NewReader(log), int64(len(log)), "")
	_, err := Rewrite(context.Background(), io.Discard, src, walfmt.NewFileHeader(),
		func([]byte, int64) (bool, error) { return false, errRead }, func([]byte, int64, int64, int) {}, nil)
	if !errors.Is(err, errRead) {
		t.Fatalf("got %v, want the liveness error", err)
	}
}
