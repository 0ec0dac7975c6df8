package server

import (
	"bytes"
	"testing"

	"github.com/crabkv/crabkv/kv"
)

// The expected slices are what redis-server 7 answers for the same calls.
func TestGetRange(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := dialClient(t, addr)
	ctx := testCtx(t)
	if err := c.Set(ctx, "s", "This is a string", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "e", "", 0).Err(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		key        string
		start, end int64
		want       string
	}{
		{"s", 0, 3, "This"},
		{"s", -3, -1, "ing"},
		{"s", 0, -1, "This is a string"},
		{"s", 10, 100, "string"},
		{"s", -100, -50, "T"},
		{"s", -100, 100, "This is a string"},
		{"s", 5, 3, ""},
		{"s", -1, -3, ""},
		{"s", 16, 20, ""},
		{"s", 15, 15, "g"},
		{"s", -1, 0, ""},
		{"s", 0, 0, "T"},
		{"s", 3, -100, ""},
		{"s", -5, 3, ""},
		{"s", 100, 200, ""},
		{"s", -9223372036854775808, -1, "This is a string"},
		{"s", 0, 9223372036854775807, "This is a string"},
		{"e", 0, -1, ""},
		{"missing", 0, -1, ""},
		{"", 0, -1, ""},
	}
	for _, tc := range cases {
		got, err := c.GetRange(ctx, tc.key, tc.start, tc.end).Result()
		if err != nil || got != tc.want {
			t.Errorf("GETRANGE %q %d %d = %q, %v; want %q", tc.key, tc.start, tc.end, got, err, tc.want)
		}
	}
	_, err := do(ctx, c, "GETRANGE", "s", "a", "1")
	wantErr(t, err, "ERR value is not an integer or out of range")
	_, err = do(ctx, c, "GETRANGE", "s", "0", "99999999999999999999")
	wantErr(t, err, "ERR value is not an integer or out of range")
	// Redis reads no plus sign and no leading zero (string2ll).
	for _, bad := range []string{"+1", "01", "-0"} {
		_, err = do(ctx, c, "GETRANGE", "s", bad, "3")
		wantErr(t, err, "ERR value is not an integer or out of range")
	}
	_, err = do(ctx, c, "GETRANGE", "s", "0")
	wantErr(t, err, "ERR wrong number of arguments for 'getrange' command")
}

// A slice from the middle and from the end of the largest value comes back
// exactly, binary bytes included.
func TestGetRangeLargeValue(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := dialClient(t, addr)
	ctx := testCtx(t)
	big := make([]byte, kv.DefaultMaxValueSize)
	for i := range big {
		big[i] = byte(i * 7)
	}
	if err := c.Set(ctx, "big", big, 0).Err(); err != nil {
		t.Fatal(err)
	}
	mid := int64(len(big) / 2)
	got, err := c.GetRange(ctx, "big", mid, mid+999).Bytes()
	if err != nil || !bytes.Equal(got, big[mid:mid+1000]) {
		t.Fatalf("middle slice: %d bytes, %v", len(got), err)
	}
	got, err = c.GetRange(ctx, "big", -10, -1).Bytes()
	if err != nil || !bytes.Equal(got, big[len(big)-10:]) {
		t.Fatalf("tail slice: %q, %v", got, err)
	}
	got, err = c.GetRange(ctx, "big", 0, -1).Bytes()
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("whole value: %d bytes, %v", len(got), err)
	}
}
