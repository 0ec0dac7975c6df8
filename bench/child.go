package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/crabkv/crabkv/bench/internal/workload"
)

// childJob is what the driver passes to a child process with -child.
type childJob struct {
	Spec   workload.Spec `json:"spec"`
	Engine string        `json:"engine"`
	Dir    string        `json:"dir"`
	Trial  int           `json:"trial"`
	Seed   uint64        `json:"seed"`
}

// runChild runs one job and prints its result as one JSON line on stdout,
// the only thing a child writes there.
func runChild(cfg *config) int {
	var job childJob
	if err := json.Unmarshal([]byte(cfg.child), &job); err != nil {
		fmt.Fprintln(os.Stderr, "crabbench child: bad job:", err)
		return 2
	}
	res := workload.Run(job.Spec, job.Engine, job.Dir, job.Seed)
	res.Trial = job.Trial
	line, err := json.Marshal(res)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crabbench child:", err)
		return 1
	}
	fmt.Printf("%s\n", line)
	return 0
}
