package kv_test

import (
	"os"
	"strings"
	"testing"

	"github.com/crabkv/crabkv/kv"
)

// valueFS is the operating system's file system behind Files that are
// structs holding a slice, passed by value: values that == cannot compare.
type valueFS struct{ kv.FS }

type valueFile struct {
	kv.File
	tags []string
}

func (v valueFS) OpenFile(name string, flag int, perm os.FileMode) (kv.File, error) {
	f, err := v.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return valueFile{File: f, tags: []string{name}}, nil
}

// TestOpenRefusesIncomparableFiles opens a store on an FS whose Files
// cannot be compared: the store tells its files apart with ==, which would
// panic on them later (a failed sync, a checkpoint), so Open must refuse
// the FS with an error that says why, and leave the directory usable.
func TestOpenRefusesIncomparableFiles(t *testing.T) {
	dir := t.TempDir()
	db, err := kv.Open(dir, &kv.Options{FS: valueFS{kv.DefaultFS()}})
	if err == nil {
		_ = db.Close()
		t.Fatal("Open on an FS of incomparable Files succeeded")
	}
	if !strings.Contains(err.Error(), "compar") {
		t.Errorf("Open: %v; want an error that says the Files cannot be compared", err)
	}
	db, err = kv.Open(dir, nil)
	if err != nil {
		t.Fatalf("Open on the operating system's FS after the refusal: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}
