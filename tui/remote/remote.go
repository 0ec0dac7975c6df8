// Package remote is the inspector's Store over the network: a crabkv
// server (crabkv serve, package server) reached with go-redis over its
// RESP protocol. Keys come from SCAN, values from GET, STRLEN and
// GETRANGE, the gauge's figures from CRABKV.STATS (or INFO crabkv), and
// compaction progress from the crabkv:compaction channel.
package remote

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/tui"
)

// Timeouts for one command. A compaction can take longer than any of
// them: it runs on a connection of its own without a read timeout.
const (
	dialTimeout = 5 * time.Second
	ioTimeout   = 30 * time.Second
)

// scanCount is the COUNT hint of each SCAN. It is large because a crabkv
// server lists and sorts the keys afresh for every page: listing a store
// of n keys costs n/scanCount such sorts, so 1000 keys a page took 10 s
// for 100,000 keys. A page of 100,000 keys is a reply of a few MiB.
// deleteChunk is how many keys one DEL takes.
const (
	scanCount   = 100_000
	deleteChunk = 1000
)

// maxScanCalls bounds the SCAN loop: a server whose cursor never comes
// back to 0 would otherwise keep the inspector reading forever.
const maxScanCalls = 1 << 24

// Store is a tui.Store on a crabkv server. It is safe for concurrent
// use: go-redis keeps a pool of connections.
type Store struct {
	rdb  *redis.Client
	opts *redis.Options
	name string
	// scanCount is the COUNT of each SCAN: the constant scanCount, but
	// for tests, which page through small stores.
	scanCount int64
	// noGetRange is set once the server has said it has no GETRANGE;
	// parts of values are then cut from whole values.
	noGetRange atomic.Bool
	// noTTL is set once the server has said it has no PTTL: its keys
	// are then shown without expiries.
	noTTL atomic.Bool
	// noCluster is set once the server has shown it is not a cluster
	// node: INFO cluster is then not asked at every poll.
	noCluster atomic.Bool
	leaders   leaders // where writes are redirected to (cluster.go)
}

// Options are what Dial does not read from the address.
type Options struct {
	// Password is used when the address gives none.
	Password string
}

// Dial connects to the server at rawURL, redis://[:password@]host:port,
// and checks that it answers, so that a wrong address or password is
// reported at once, in words.
func Dial(rawURL string) (*Store, error) { return DialOptions(rawURL, Options{}) }

// DialOptions is Dial with options.
func DialOptions(rawURL string, o Options) (*Store, error) {
	opts, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if opts.Password == "" {
		opts.Password = o.Password
	}
	s := &Store{rdb: redis.NewClient(opts), opts: opts, name: "redis://" + opts.Addr, scanCount: scanCount}
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		// The ping's error is the one to report; closing a pool that
		// never connected has nothing to say.
		_ = s.rdb.Close()
		return nil, explainDial(opts.Addr, err)
	}
	return s, nil
}

// parseURL checks rawURL and turns it into client options. Only
// database 0 exists on a crabkv server.
func parseURL(rawURL string) (*redis.Options, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		return nil, fmt.Errorf("%q is not a server address: give redis://[:password@]host:port", redactURL(rawURL))
	}
	if db := strings.Trim(u.Path, "/"); db != "" && db != "0" {
		return nil, fmt.Errorf("%s: a crabkv server has database 0 only", redactURL(rawURL))
	}
	if u.Port() == "" {
		u.Host += ":6380" // crabkv serve's port, not Redis's
	}
	opts, err := redis.ParseURL(u.String())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", redactURL(rawURL), err)
	}
	opts.Protocol = 2
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = dialTimeout, ioTimeout, ioTimeout
	opts.MaxRetries = 1
	opts.OnConnect = readOnlyOnConnect // browse a cluster node's own copy (cluster.go)
	return opts, nil
}

// redactURL hides the password of an address that is shown.
func redactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		if i := strings.LastIndex(rawURL, "@"); i >= 0 {
			return "…" + rawURL[i:]
		}
		return rawURL
	}
	return u.Redacted()
}

// explainDial says why the server at addr could not be used.
func explainDial(addr string, err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("connect to %s: connection refused: is crabkv serve running there?", addr)
	case strings.HasPrefix(msg, "NOAUTH"):
		return fmt.Errorf("%s: the server asks for a password: give it as redis://:PASSWORD@%s or in $CRABKV_PASSWORD", addr, addr)
	case strings.HasPrefix(msg, "WRONGPASS"), strings.Contains(msg, "invalid password"):
		return fmt.Errorf("%s: the server refused the password", addr)
	}
	return fmt.Errorf("connect to %s: %w", addr, err)
}

// Close closes the connections.
func (s *Store) Close() error { return errors.Join(s.rdb.Close(), s.leaders.close()) }

// Name is the server's address, without the password.
func (s *Store) Name() string { return s.name }

// ctx is the context of one command: the client's timeouts bound it.
func ctx() context.Context { return context.Background() }

// notFound turns a nil reply into kv.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, redis.Nil) {
		return kv.ErrNotFound
	}
	return err
}

// Keys lists the keys with SCAN, which may return a key more than once.
func (s *Store) Keys() ([]string, error) {
	var keys []string
	var cursor uint64
	for range maxScanCalls {
		page, next, err := s.rdb.Scan(ctx(), cursor, "", s.scanCount).Result()
		if err != nil {
			return nil, err
		}
		keys = append(keys, page...)
		if cursor = next; cursor == 0 {
			slices.Sort(keys)
			return slices.Compact(keys), nil
		}
	}
	return nil, fmt.Errorf("SCAN did not finish after %d calls", maxScanCalls)
}

// Entry reports a value's size and expiry; a server does not say where
// a value sits nor how it is stored.
func (s *Store) Entry(key string) (tui.ValueInfo, error) {
	sizes, err := s.Sizes([]string{key})
	switch {
	case err != nil:
		return tui.ValueInfo{Offset: -1}, err
	case sizes[0] < 0:
		return tui.ValueInfo{Offset: -1}, kv.ErrNotFound
	}
	info := tui.ValueInfo{Offset: -1, ValueSize: sizes[0]}
	exp, err := s.Expiries([]string{key})
	if err != nil {
		return tui.ValueInfo{Offset: -1}, err
	}
	info.Expires = exp[0]
	return info, nil
}

// Expiries asks PTTL of every key in one round trip, and turns the
// remaining times into instants by the inspector's clock. A server
// without PTTL (noTTL) has no expiring keys to show: every key then
// reports none.
func (s *Store) Expiries(keys []string) ([]time.Time, error) {
	out := make([]time.Time, len(keys))
	if s.noTTL.Load() || len(keys) == 0 {
		return out, nil
	}
	pipe := s.rdb.Pipeline()
	ttls := make([]*redis.DurationCmd, len(keys))
	for i, k := range keys {
		ttls[i] = pipe.PTTL(ctx(), k)
	}
	now := time.Now()
	if _, err := pipe.Exec(ctx()); err != nil {
		if unknownCommand(err) {
			s.noTTL.Store(true)
			return out, nil
		}
		return nil, err
	}
	for i := range keys {
		if d := ttls[i].Val(); d > 0 {
			out[i] = now.Add(d)
		}
	}
	return out, nil
}

// Sizes asks EXISTS and STRLEN of every key in one round trip: STRLEN
// alone does not tell a missing key from an empty value.
func (s *Store) Sizes(keys []string) ([]int, error) {
	pipe := s.rdb.Pipeline()
	exists := make([]*redis.IntCmd, len(keys))
	lens := make([]*redis.IntCmd, len(keys))
	for i, k := range keys {
		exists[i] = pipe.Exists(ctx(), k)
		lens[i] = pipe.StrLen(ctx(), k)
	}
	if _, err := pipe.Exec(ctx()); err != nil {
		return nil, err
	}
	sizes := make([]int, len(keys))
	for i := range keys {
		sizes[i] = int(lens[i].Val())
		if exists[i].Val() == 0 {
			sizes[i] = -1
		}
	}
	return sizes, nil
}

// Get reads a whole value.
func (s *Store) Get(key string) ([]byte, error) {
	v, err := s.rdb.Get(ctx(), key).Bytes()
	return v, notFound(err)
}
