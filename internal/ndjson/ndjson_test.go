package ndjson

import (
	"bytes"
	"fmt"
	"testing"
)

// Every key and value, of any bytes, parses back exactly from its line.
func TestPairRoundTrip(t *testing.T) {
	var all []byte
	for i := range 256 {
		all = append(all, byte(i))
	}
	pairs := [][2][]byte{
		{[]byte("k"), nil},
		{[]byte("plain"), []byte("value")},
		{[]byte{0xff, 0x00, 'k'}, all},
		{[]byte("é\u2028\"\\\n"), []byte("\x1b[31mred")},
	}
	for _, p := range pairs {
		line := AppendPair(nil, p[0], p[1])
		if bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
			t.Fatalf("%q is not one line", line)
		}
		k, v, _, err := ParsePair(line)
		if err != nil || !bytes.Equal(k, p[0]) || !bytes.Equal(v, p[1]) {
			t.Errorf("%s: parsed %q %q, %v", line, k, v, err)
		}
	}
}

// AppendPair appends to the caller's buffer and leaves its bytes alone.
func TestAppendPairAppends(t *testing.T) {
	dst := []byte("prefix:")
	got := AppendPair(dst, []byte("k"), []byte{0xff})
	if want := "prefix:" + `{"key":"k","value_base64":"/w=="}` + "\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func ExampleAppendPair() {
	fmt.Printf("%s", AppendPair(nil, []byte("user:1"), []byte("Ada")))
	fmt.Printf("%s", AppendPair(nil, []byte("raw"), []byte{0, 0xfe}))
	// Output:
	// {"key":"user:1","value":"Ada"}
	// {"key":"raw","value_base64":"AP4="}
}
