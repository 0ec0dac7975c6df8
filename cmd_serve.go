package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/server"
)

// passwordEnv names the environment variable that sets the password when
// --requirepass is not given; it keeps the password out of the process list.
const passwordEnv = "CRABKV_PASSWORD"

// serveCompactMinMiB is the default of --compact-min-mib: the smallest log,
// in MiB, that serve compacts automatically. The engine's own default (1
// MiB, compact.DefaultMinLogBytes) suits a store opened for a while; a
// server takes writes for as long as it runs, and one key rewritten in a
// loop (a counter, a session, redis-benchmark's SET) would have its log
// rewritten every MiB, a compaction per few tens of thousands of small
// writes, about a sixth of the CPU of each unsynced pipelined SET. Redis
// waits as long to rewrite its append-only file (auto-aof-rewrite-min-size
// 64mb). The price is disk: up to this much log beyond what a third of
// stale bytes allows.
const serveCompactMinMiB = 64

// maxCompactMinMiB bounds --compact-min-mib (1 TiB): past it, a log would
// in effect never be compacted automatically, which
// kv.Options.Compaction.Disabled says more plainly.
const maxCompactMinMiB = 1 << 20

// shutdownGrace bounds how long serve waits, after a signal, for the
// commands in flight to finish before it closes the connections anyway.
const shutdownGrace = 10 * time.Second

var serveVerb = verb{
	name:    "serve",
	args:    "",
	summary: "serve the store over the Redis protocol",
	writes:  true,
	help: `
Serve opens the store for writing and serves it over the Redis protocol
(RESP2) until interrupted (Ctrl-C, SIGINT or SIGTERM). It then stops
accepting connections, lets the commands in flight finish, closes the store
and exits 0. redis-cli, redis-benchmark and Redis client libraries work
with it; the commands are those of Redis for strings and keys (GET, SET,
DEL, MGET, MSET, SCAN, ...), plus CRABKV.STATS, CRABKV.COMPACT and
SUBSCRIBE crabkv:compaction. Keys expire as in Redis (SET's EX, PX, EXAT
and PXAT, EXPIRE, TTL, PERSIST).

It listens on 127.0.0.1:6380, this machine only, unless --addr says
otherwise; serving beyond this machine logs a warning. With --tls-cert and
--tls-key the connections are encrypted (TLS 1.2 or later; redis-cli --tls,
rediss:// URLs); otherwise the protocol, password included, is plain
text. With --requirepass (or $` + passwordEnv + `) clients must AUTH
before any other command. FLUSHDB is refused unless --allow-flush.

With --admin host:port it also serves HTTP there: /healthz (200 while
serving, 503 while shutting down) and /metrics, Prometheus metrics of the
commands (by name and result, with a latency histogram), connections, keys,
live and stale bytes and compactions. It has no password: keep it on
loopback or a private network.

The plain writes that follow one another in a pipeline (SET without
options, DEL, UNLINK, MSET) share one batch and one sync, and are
acknowledged once it is durable; with --no-sync they are acknowledged once
written to the operating system, which keeps them through a crash of
crabkv but not of the machine.

With --cluster the store is one node of a replicated cluster (raft): its
data directory holds the store (kv/) and raft's log and snapshots (raft/).
--node-id names the node, for good; --raft-addr is where it talks to its
peers, an address they can reach. The first node is started with
--bootstrap; every other with --join host:port, the client address of a
running node, which asks the leader to add it. A restarted node needs
neither. Writes are acknowledged once a majority has them; only the
leader takes them, and the other nodes answer "-MOVED 0 host:port" with
the leader's client address (redis-cli -c and cluster clients follow it),
or "-CLUSTERDOWN" while there is no leader. Reads are linearizable, served
by the leader, unless the connection sends READONLY: then any node answers
from its own copy, which may lag. INFO cluster and 'crabkv cluster status'
show the node's view; 'crabkv cluster join|leave' change the members.
--no-sync is refused: a cluster's writes are synced. --raft-dial
id=host:port,... makes this node reach those members through another
address than their raft address, such as a proxy in between; the others
still dial what they are told. --raft-trailing-logs is how many entries
raft keeps after a snapshot (default 10240): a node further behind, or a
new one, is sent the snapshot instead.

The log is compacted automatically once a third of it is stale, and only
once it is at least --compact-min-mib MiB (default 64, as Redis waits for
64 MB before it rewrites its append-only file): a smaller minimum keeps
less stale data on disk at the cost of more rewrites of a log whose keys
are overwritten often.

--cpuprofile file writes a CPU profile of the whole serve, for 'go tool
pprof'; it is complete once serve has stopped.`,
	run: runServe,
}

func runServe(e *env, v *verb, args []string) int {
	fs := e.flagSet(v)
	addr := fs.String("addr", server.DefaultAddr, "`host:port` to listen on")
	pass := fs.String("requirepass", "", "`password` clients must give with AUTH (default $"+passwordEnv+")")
	allowFlush := fs.Bool("allow-flush", false, "let FLUSHDB delete every key")
	admin := fs.String("admin", "", "also serve /healthz and Prometheus /metrics over HTTP on `host:port` (e.g. 127.0.0.1:9121)")
	tlsCert := fs.String("tls-cert", "", "serve TLS with the certificate in this PEM `file` (with --tls-key)")
	tlsKey := fs.String("tls-key", "", "the private key of --tls-cert, a PEM `file`")
	noSync := fs.Bool("no-sync", false, "acknowledge writes before they reach stable storage (survives a crash of crabkv, not of the machine)")
	compactMin := fs.Int("compact-min-mib", serveCompactMinMiB, "compact the log automatically only once it is at least this many `MiB` (and a third stale)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole serve to `file` (go tool pprof), complete once serve stops")
	cf := clusterFlags(fs)
	if _, code, ok := e.parse(v, fs, args, 0, 0); !ok {
		return code
	}
	if *pass == "" {
		*pass = e.getenv(passwordEnv)
	}
	var tlsConfig *tls.Config
	if (*tlsCert == "") != (*tlsKey == "") {
		return e.fail(errors.New("serve: --tls-cert and --tls-key go together"))
	}
	if *tlsCert != "" {
		var err error
		if tlsConfig, err = server.TLSConfig(*tlsCert, *tlsKey); err != nil {
			return e.fail(fmt.Errorf("serve: %w", err))
		}
	}
	if *compactMin < 1 || *compactMin > maxCompactMinMiB {
		return e.usageError(fmt.Sprintf("crabkv serve: --compact-min-mib must be between 1 and %d", maxCompactMinMiB), func(w io.Writer) {
			_, _ = fmt.Fprintf(w, "%s\nRun 'crabkv help serve' for details.\n", synopsis(v)) // best effort
		})
	}
	policy := compact.Policy{MinLogBytes: int64(*compactMin) << 20}
	if err := cf.check(*noSync); err != nil {
		return e.usageError("crabkv serve: "+err.Error(), func(w io.Writer) {
			_, _ = fmt.Fprintf(w, "%s\nRun 'crabkv help serve' for details.\n", synopsis(v)) // best effort
		})
	}
	if *cpuProfile != "" {
		stopProfile, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return e.fail(fmt.Errorf("serve: --cpuprofile: %w", err))
		}
		defer func() {
			if err := stopProfile(); err != nil {
				_, _ = fmt.Fprintf(e.stderr, "crabkv: --cpuprofile: %v\n", err) // the serve itself went well
			}
		}()
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, nil))
	// The client listener comes first: a cluster node advertises its
	// address.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return e.fail(err)
	}
	var (
		store   server.Store
		closeDB func(code int) int
	)
	if cf.enabled {
		store, closeDB, err = e.openClusterNode(cf, ln.Addr().String(), *pass, policy, logger)
	} else {
		var db *kv.DB
		if db, err = e.openWith(&kv.Options{NoSync: *noSync, Compaction: policy}); err == nil {
			store, closeDB = server.NewDBStore(db), func(code int) int { return e.closeDB(db, code) }
		}
	}
	if err != nil {
		_ = ln.Close() // serving never started; the open error is the one to report
		return e.fail(err)
	}
	server.WarnIfExposed(logger, ln.Addr().String(), *pass != "", tlsConfig != nil)
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	s := server.NewWithStore(store, server.Options{Password: *pass, AllowFlush: *allowFlush, NoSync: *noSync, Logger: logger})
	// The signals are caught before the address is announced, so that a
	// signal sent on seeing it shuts down gracefully.
	notify := e.notifyStop
	if notify == nil {
		notify = func(ctx context.Context) (context.Context, context.CancelFunc) {
			return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		}
	}
	ctx, stop := notify(context.Background())
	defer stop()
	if *admin != "" {
		stopAdmin, err := e.serveAdmin(logger, s, *admin, *pass != "")
		if err != nil {
			_ = ln.Close() // serving never started; the admin error is the one to report
			return closeDB(e.fail(err))
		}
		defer stopAdmin()
	}
	// A status line on stderr, best effort: serving does not depend on it.
	scheme := ""
	if tlsConfig != nil {
		scheme = " with TLS"
	}
	_, _ = fmt.Fprintf(e.stderr, "crabkv: serving %s on %s%s\n", store.Dir(), ln.Addr(), scheme)
	return closeDB(e.serveUntilStopped(ctx, stop, s, ln))
}

// serveAdmin serves s's admin endpoints (health and metrics) over HTTP on
// addr, and returns the function that stops them.
func (e *env) serveAdmin(logger *slog.Logger, s *server.Server, addr string, hasPassword bool) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	server.WarnIfExposed(logger.With("listener", "admin"), ln.Addr().String(), hasPassword, false)
	hs := &http.Server{Handler: s.AdminHandler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("admin listener failed", "err", err)
		}
	}()
	// A status line, best effort like the one serve prints.
	_, _ = fmt.Fprintf(e.stderr, "crabkv: admin on http://%s (/healthz, /metrics)\n", ln.Addr())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx) // a scrape cut short is no loss
		<-done
	}, nil
}

// serveUntilStopped serves on ln until ctx ends, then shuts s down.
func (e *env) serveUntilStopped(ctx context.Context, stop context.CancelFunc, s *server.Server, ln net.Listener) int {
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	select {
	case err := <-served:
		return e.fail(fmt.Errorf("serve: %w", err))
	case <-ctx.Done():
	}
	stop() // a second Ctrl-C now ends the process at once
	// A status line, best effort like the one above.
	_, _ = fmt.Fprintln(e.stderr, "crabkv: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	code := exitOK
	if err := s.Shutdown(sctx); err != nil {
		code = e.fail(fmt.Errorf("shutdown: %w", err))
	}
	if err := <-served; !errors.Is(err, server.ErrServerClosed) {
		code = e.fail(fmt.Errorf("serve: %w", err))
	}
	return code
}
