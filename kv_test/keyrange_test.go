package kv_test

import (
	"fmt"
	"testing"
)

// TestAscendRange lists the keys of a range, resumed after a key as a
// paged listing does, and leaves out deleted keys.
func TestAscendRange(t *testing.T) {
	db := openDB(t, t.TempDir(), nil)
	for _, k := range []string{"a", "b", "b\x00", "c", "d", "e"} {
		mustPut(t, db, k, "value")
	}
	if err := db.Delete([]byte("d")); err != nil {
		t.Fatal(err)
	}
	list := func(start, end []byte, max int) string {
		t.Helper()
		var got []string
		err := db.AscendRange(start, end, func(k []byte) bool {
			got = append(got, fmt.Sprintf("%q", k))
			return len(got) < max
		})
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(got)
	}
	for _, tc := range []struct {
		start, end []byte
		max        int
		want       string
	}{
		{nil, nil, 100, `["a" "b" "b\x00" "c" "e"]`},
		{[]byte("b\x00"), []byte("e"), 100, `["b\x00" "c"]`},
		{[]byte("b"), nil, 2, `["b" "b\x00"]`},
		{[]byte("c\x00"), nil, 100, `["e"]`},
		{[]byte("e\x00"), nil, 100, `[]`},
	} {
		if got := list(tc.start, tc.end, tc.max); got != tc.want {
			t.Errorf("AscendRange(%q, %q) stopping after %d = %s, want %s", tc.start, tc.end, tc.max, got, tc.want)
		}
	}
}
