package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// cmdServeSignal runs "crabkv serve" as a process of its own on a loopback
// port, checks that it answers PING, sends it a signal and checks that it
// exits 0 within a bound. Scripts then look at the data directory.
//
//	servesignal dir INT|TERM
func cmdServeSignal(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 || (args[1] != "INT" && args[1] != "TERM") {
		ts.Fatalf("usage: servesignal dir INT|TERM")
	}
	if runtime.GOOS == "windows" {
		ts.Logf("servesignal: no signals on Windows; skipped")
		return
	}
	bin := ""
	for _, d := range filepath.SplitList(ts.Getenv("PATH")) {
		if p := filepath.Join(d, "crabkv"); fileExists(p) {
			bin = p
			break
		}
	}
	if bin == "" {
		ts.Fatalf("servesignal: crabkv not on the script's PATH")
	}
	cmd := exec.Command(bin, "serve", "--dir", ts.MkAbs(args[0]), "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "PATH="+ts.Getenv("PATH"), "GORACE="+ts.Getenv("GORACE"))
	stderr, err := cmd.StderrPipe()
	ts.Check(err)
	ts.Check(cmd.Start())
	exited := make(chan error, 1)
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	kill := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	defer kill.Stop()
	re := regexp.MustCompile(`serving .* on (127\.0\.0\.1:\d+)`)
	var addr string
	var log []string
	for line := range lines {
		log = append(log, line)
		if m := re.FindStringSubmatch(line); m != nil {
			addr = m[1]
			break
		}
	}
	if addr == "" {
		ts.Fatalf("servesignal: serve did not listen:\n%s", strings.Join(log, "\n"))
	}
	rw := rawPing(ts, addr)
	if rw != "+PONG" {
		ts.Fatalf("servesignal: PING answered %q", rw)
	}
	sig := syscall.SIGTERM
	if args[1] == "INT" {
		sig = syscall.SIGINT
	}
	ts.Check(cmd.Process.Signal(sig))
	for line := range lines {
		log = append(log, line)
	}
	if err := <-exited; err != nil {
		ts.Fatalf("servesignal: serve ended with %v after SIG%s:\n%s", err, args[1], strings.Join(log, "\n"))
	}
	ts.Logf("%s", strings.Join(log, "\n"))
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// rawPing sends PING in the protocol and returns the reply line.
func rawPing(ts *testscript.TestScript, addr string) string {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	ts.Check(err)
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = nc.Write([]byte("*1\r\n$4\r\nPING\r\n"))
	ts.Check(err)
	line, err := bufio.NewReader(nc).ReadString('\n')
	ts.Check(err)
	return strings.TrimSpace(line)
}
