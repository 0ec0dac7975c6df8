package keys

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestKeysDistinctAndShaped(t *testing.T) {
	const n = 200000
	seen := make(map[string]struct{}, n)
	var buf []byte
	for i := uint64(0); i < n; i++ {
		buf = Append(buf[:0], i)
		if len(buf) != KeySize {
			t.Fatalf("key %d has length %d", i, len(buf))
		}
		if _, dup := seen[string(buf)]; dup {
			t.Fatalf("key %d duplicates an earlier key: %s", i, buf)
		}
		seen[string(buf)] = struct{}{}
	}
	if !bytes.Equal(Append(nil, 7), Append(nil, 7)) {
		t.Fatal("keys are not deterministic")
	}
	// Consecutive indexes must not give sorted keys, or a loop over i
	// would be a sequential fill rather than a random one.
	sorted := 0
	for i := uint64(0); i < 1000; i++ {
		if bytes.Compare(Append(nil, i), Append(nil, i+1)) < 0 {
			sorted++
		}
	}
	if sorted < 400 || sorted > 600 {
		t.Fatalf("%d of 1000 consecutive pairs in order; want about half", sorted)
	}
}

func TestValues(t *testing.T) {
	v := NewValues(1)
	a, b := v.For(1, 0), v.For(1, 1)
	if len(a) != ValueSize || len(b) != ValueSize {
		t.Fatalf("value sizes %d, %d", len(a), len(b))
	}
	if bytes.Equal(a, b) {
		t.Fatal("a new generation gave the same value")
	}
	if !bytes.Equal(a, NewValues(1).For(1, 0)) {
		t.Fatal("values are not deterministic")
	}
}

func TestZipf(t *testing.T) {
	const n = 200000
	if NewZipf(1, 0, ZipfS) != nil || NewZipf(1, n, 1.0) != nil {
		t.Fatal("invalid parameters accepted")
	}
	z := NewZipf(1, n, ZipfS)
	counts := make(map[uint64]int)
	const draws = 100000
	hot := 0
	for range draws {
		x := z.Next()
		if x >= n {
			t.Fatalf("draw %d out of range", x)
		}
		counts[x]++
		if x < 1000 {
			hot++
		}
	}
	if counts[0] <= counts[1] || counts[1] <= counts[10] {
		t.Fatalf("not skewed: counts[0]=%d counts[1]=%d counts[10]=%d", counts[0], counts[1], counts[10])
	}
	// With s = 1.1 the hottest 0.5% of keys take well over half the draws.
	if hot < draws/2 {
		t.Fatalf("hottest 1000 keys drew %d of %d", hot, draws)
	}
	if len(counts) < 1000 {
		t.Fatalf("only %d distinct keys drawn", len(counts))
	}
}

// JSON documents are valid JSON of about JSONSize bytes, the same for the
// same number and version and different otherwise.
func TestJSONDocs(t *testing.T) {
	d := NewJSONDocs(1)
	a := string(d.For(7, 0))
	if !json.Valid([]byte(a)) || len(a) < JSONSize-100 || len(a) > JSONSize+100 {
		t.Fatalf("document of %d bytes: %s", len(a), a)
	}
	if string(NewJSONDocs(1).For(7, 0)) != a || string(d.For(8, 0)) == a || string(d.For(7, 1)) == a {
		t.Fatal("documents are not a function of their number and version")
	}
	p := NewJSONDocs(1)
	p.Prepare(10)
	for i := range uint64(12) {
		if string(p.For(i, 0)) != string(NewJSONDocs(1).For(i, 0)) {
			t.Fatalf("prepared document %d differs", i)
		}
	}
}
