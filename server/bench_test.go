package server

import (
	"bufio"
	"bytes"
	"net"
	"strconv"
	"testing"
)

// benchPipeline sends b.N commands (req, repeated) in pipelines of depth
// over one connection and reads the replies, each one line (replyLines 1)
// or a bulk string (2).
func benchPipeline(b *testing.B, opts Options, setup, req string, depth, replyLines int) {
	_, addr := startServer(b, opts)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	r := bufio.NewReaderSize(nc, 64<<10)
	if setup != "" {
		if _, err := nc.Write([]byte(setup)); err != nil {
			b.Fatal(err)
		}
		if _, err := r.ReadString('\n'); err != nil {
			b.Fatal(err)
		}
	}
	batch := bytes.Repeat([]byte(req), depth)
	b.ReportAllocs()
	b.ResetTimer()
	for sent := 0; sent < b.N; sent += depth {
		if _, err := nc.Write(batch); err != nil {
			b.Fatal(err)
		}
		for range depth * replyLines {
			if _, err := r.ReadSlice('\n'); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkGetPipelined(b *testing.B) {
	benchPipeline(b, Options{}, "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$3\r\nxxx\r\n",
		"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n", 16, 2)
}

func BenchmarkGetOneByOne(b *testing.B) {
	benchPipeline(b, Options{}, "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$3\r\nxxx\r\n",
		"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n", 1, 2)
}

// BenchmarkSetPipelined writes to a store without sync: it measures the
// server's work per SET, not the disk.
func BenchmarkSetPipelined(b *testing.B) {
	val := bytes.Repeat([]byte("x"), 3)
	req := "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$" + strconv.Itoa(len(val)) + "\r\n" + string(val) + "\r\n"
	benchPipeline(b, Options{}, "", req, 16, 1)
}
