package kv

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestTrailingZeros checks where trailingZeros says a file's closing zeros
// begin: after its last byte that is not zero, whether the zeros were
// written or are a hole, never before data that follows a hole, and never
// before from.
func TestTrailingZeros(t *testing.T) {
	data := bytes.Repeat([]byte{0xaa}, 10<<10)
	for _, tc := range []struct {
		name  string
		build func(f *os.File) error
		from  int64
		want  int64
	}{
		{"data only", func(f *os.File) error { _, err := f.Write(data); return err }, 0, 10 << 10},
		{"written zeros", func(f *os.File) error {
			_, err := f.Write(append(data, make([]byte, 3<<20)...))
			return err
		}, 0, 10 << 10},
		{"written zeros and a hole", func(f *os.File) error {
			if _, err := f.Write(append(data, make([]byte, 2<<20)...)); err != nil {
				return err
			}
			return f.Truncate(64 << 20)
		}, 0, 10 << 10},
		{"data after a hole", func(f *os.File) error {
			if _, err := f.Write(data); err != nil {
				return err
			}
			if _, err := f.WriteAt([]byte{0xbb}, 40<<20-1); err != nil {
				return err
			}
			return f.Truncate(48 << 20)
		}, 0, 40 << 20},
		{"from past the data", func(f *os.File) error {
			if _, err := f.Write(data); err != nil {
				return err
			}
			return f.Truncate(8 << 20)
		}, 20 << 10, 20 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.Create(filepath.Join(t.TempDir(), "log"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := tc.build(f); err != nil {
				t.Fatal(err)
			}
			fi, err := f.Stat()
			if err != nil {
				t.Fatal(err)
			}
			if got := trailingZeros(osFile{f}, tc.from, fi.Size()); got != tc.want {
				t.Errorf("trailingZeros = %d, want %d", got, tc.want)
			}
			// Read through a File that is not an *os.File: no holes.
			if got := trailingZeros(readOnlyFile{osFile{f}}, tc.from, fi.Size()); got != tc.want {
				t.Errorf("trailingZeros without holes = %d, want %d", got, tc.want)
			}
		})
	}
}

// readOnlyFile hides the *os.File behind a File.
type readOnlyFile struct{ File }
