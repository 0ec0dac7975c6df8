package remote

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/tui"
)

// Put stores a value with SET, asking EXISTS first in the same round
// trip to tell a new key from a changed one. tui.KeepTTL is SET KEEPTTL,
// tui.NoTTL a plain SET, which removes an expiry, and a positive ttl SET
// PX.
func (s *Store) Put(key string, value []byte, ttl time.Duration) (bool, error) {
	if key == "" {
		return false, errEmptyKey
	}
	var created bool
	err := s.onLeader(func(c *redis.Client) error {
		pipe := c.Pipeline()
		exists := pipe.Exists(ctx(), key)
		switch {
		case ttl > 0:
			pipe.SetArgs(ctx(), key, value, redis.SetArgs{TTL: ttl})
		case ttl == tui.KeepTTL:
			pipe.SetArgs(ctx(), key, value, redis.SetArgs{KeepTTL: true})
		case ttl == tui.KeepExisting:
			pipe.SetArgs(ctx(), key, value, redis.SetArgs{KeepTTL: true, Mode: "XX"})
		default:
			pipe.Set(ctx(), key, value, 0)
		}
		_, err := pipe.Exec(ctx())
		if ttl == tui.KeepExisting && errors.Is(err, redis.Nil) {
			return fmt.Errorf("%q: %w", key, kv.ErrNotFound) // XX: nothing written
		}
		created = exists.Val() == 0
		return err
	})
	return created && err == nil, err
}

// Replace stores a value with SET IFEQ (as Valkey has it), which the
// server checks and writes under the key's lock, asking EXISTS first in
// the same round trip to tell a key that is gone from one that changed.
// The TTL is as Put's.
func (s *Store) Replace(key string, old, value []byte, ttl time.Duration) error {
	if key == "" {
		return errEmptyKey
	}
	args := []any{"SET", key, value, "IFEQ", old}
	switch {
	case ttl > 0:
		args = append(args, "PX", max(ttl.Milliseconds(), 1))
	case ttl == tui.KeepTTL:
		args = append(args, "KEEPTTL")
	}
	return s.onLeader(func(c *redis.Client) error {
		pipe := c.Pipeline()
		exists := pipe.Exists(ctx(), key)
		set := pipe.Do(ctx(), args...)
		_, err := pipe.Exec(ctx())
		switch {
		case errors.Is(set.Err(), redis.Nil) && exists.Val() == 0:
			return kv.ErrNotFound
		case errors.Is(set.Err(), redis.Nil):
			return tui.ErrChanged
		case set.Err() != nil && strings.Contains(set.Err().Error(), "syntax error"):
			return fmt.Errorf("the server does not take SET IFEQ, which an edit needs to write only over the value it began from: %w", set.Err())
		}
		return err
	})
}

// errEmptyKey refuses an empty key before it reaches a server, as the
// engine would.
var errEmptyKey = kv.ErrEmptyKey

// Create stores a value with SET NX, which the server checks and writes
// under one lock, so that the key cannot appear in between.
func (s *Store) Create(key string, value []byte, ttl time.Duration) error {
	if key == "" {
		return errEmptyKey
	}
	err := s.onLeader(func(c *redis.Client) error {
		return c.SetArgs(ctx(), key, value, redis.SetArgs{Mode: "NX", TTL: max(ttl, 0)}).Err()
	})
	if errors.Is(err, redis.Nil) {
		return tui.ErrExists
	}
	return err
}

// Delete deletes a key with DEL; a key that is gone already is no error.
func (s *Store) Delete(key string) error {
	return s.onLeader(func(c *redis.Client) error { return c.Del(ctx(), key).Err() })
}

// DeleteKeys deletes keys with one DEL per deleteChunk keys. The server
// deletes the keys of one DEL one after another: a failure part way
// through a chunk counts none of it as deleted, though some may be.
func (s *Store) DeleteKeys(keys []string) (int, error) {
	deleted := 0
	for deleted < len(keys) {
		chunk := keys[deleted:min(deleted+deleteChunk, len(keys))]
		if err := s.onLeader(func(c *redis.Client) error { return c.Del(ctx(), chunk...).Err() }); err != nil {
			return deleted, err
		}
		deleted += len(chunk)
	}
	return deleted, nil
}

// Compact runs CRABKV.COMPACT, which returns when the compaction is
// done: on a connection of its own, without the read timeout, which a
// large log takes longer than.
func (s *Store) Compact() error {
	opts := *s.opts
	opts.ReadTimeout = -1 // no deadline: wait for the reply
	opts.PoolSize, opts.MinIdleConns = 1, 0
	c := redis.NewClient(&opts)
	err := c.Do(ctx(), "crabkv.compact").Err()
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	return err
}
