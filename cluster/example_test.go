package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/crabkv/crabkv/cluster"
)

// A one-node cluster: it bootstraps, elects itself, and takes writes. More
// nodes start without Bootstrap and are added with AddVoter.
func Example() {
	dir, err := os.MkdirTemp("", "crabkv-cluster")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	node, err := cluster.Open(cluster.Config{ID: "n1", RaftAddr: "127.0.0.1:0", Dir: dir, Bootstrap: true})
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Until the election ends there is no leader to take the write.
	for err = cluster.ErrNoLeader; errors.Is(err, cluster.ErrNoLeader) && ctx.Err() == nil; {
		time.Sleep(50 * time.Millisecond)
		err = node.Write(ctx, cluster.Put([]byte("greeting"), []byte("hello")), cluster.Put([]byte("name"), []byte("crab")))
	}
	if err != nil {
		log.Fatal(err)
	}
	v, err := node.Get(ctx, []byte("greeting"), cluster.ReadOptions{})
	if err != nil {
		log.Fatal(err)
	}
	keys, err := node.Keys(ctx, nil, cluster.ReadOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(v), keys, node.Status().Role)
	// Output: hello [greeting name] Leader
}
