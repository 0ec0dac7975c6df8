package tui

import (
	"strings"
	"unicode"
)

// OrderedStore is a Store that reads its keys in order a few at a time.
// The key list browses such a store through a window of keys around the
// cursor instead of a snapshot of every key, so that a store of ten
// million keys shows its first screen without listing them all, and the
// inspector's memory does not grow with the store. A store that only
// lists its keys whole (the remote store) is browsed through a snapshot.
//
// A bound "" means no bound: the store holds no empty key.
type OrderedStore interface {
	Store
	// KeysFrom returns, in order, up to n keys at or after from and
	// before hi.
	KeysFrom(from, hi string, n int) ([]string, error)
	// KeysBefore returns, in order, the last n keys (or fewer) at or
	// after lo and before before.
	KeysBefore(lo, before string, n int) ([]string, error)
	// AscendFrom calls fn with each key at or after from, in order,
	// until fn returns false. The key is valid only during the call.
	AscendFrom(from string, fn func(key []byte) bool) error
	// Len returns how many keys the store holds.
	Len() (int, error)
}

// keyRange is a range of keys, [lo, hi); "" is no bound.
type keyRange struct{ lo, hi string }

// everyKey is the range of every key.
var everyKey = []keyRange{{}}

// maxPrefixRanges is the most ranges a ^prefix filter is read as; a
// case-blind prefix with more letters is matched by a scan.
const maxPrefixRanges = 64

// queryRanges returns the ranges holding exactly the keys query matches,
// sorted and disjoint, when it is the empty query or a ^prefix of few
// enough letters: an exact-case prefix is one range, a case-blind ASCII
// prefix one range per spelling of its letters in either case. ok is
// false for a query only a scan can match.
func queryRanges(query string) (rs []keyRange, ok bool) {
	if query == "" {
		return everyKey, true
	}
	prefix, isPrefix := strings.CutPrefix(query, "^")
	if !isPrefix {
		return nil, false
	}
	if !ignoresCase(prefix) {
		return []keyRange{prefixKeyRange(prefix)}, true
	}
	if !isASCII(prefix) {
		return nil, false
	}
	spellings := []string{""}
	for i := 0; i < len(prefix); i++ {
		c := prefix[i]
		up := byte(unicode.ToUpper(rune(c)))
		var next []string
		for _, s := range spellings {
			if up != c {
				next = append(next, s+string(up))
			}
			next = append(next, s+string(c))
		}
		if len(next) > maxPrefixRanges {
			return nil, false
		}
		spellings = next
	}
	// Upper-case letters sort before lower-case ones, so the spellings,
	// built upper first at each letter, are already in byte order; and
	// being of one length and distinct, their ranges are disjoint.
	for _, s := range spellings {
		rs = append(rs, prefixKeyRange(s))
	}
	return rs, true
}

// prefixKeyRange is the range of the keys that start with prefix.
func prefixKeyRange(prefix string) keyRange {
	end := []byte(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xFF {
			end[i]++
			return keyRange{prefix, string(end[:i+1])}
		}
	}
	return keyRange{lo: prefix} // all 0xFF bytes: to the end
}

// keysFrom returns, in order, up to n keys of the ranges rs at or after
// from.
func keysFrom(s OrderedStore, rs []keyRange, from string, n int) ([]string, error) {
	var out []string
	for _, r := range rs {
		if len(out) >= n {
			break
		}
		if r.hi != "" && r.hi <= from {
			continue
		}
		ks, err := s.KeysFrom(max(from, r.lo), r.hi, n-len(out))
		if err != nil {
			return nil, err
		}
		out = append(out, ks...)
	}
	return out, nil
}

// keysBefore returns, in order, the last n keys (or fewer) of the ranges
// rs before before ("": the end).
func keysBefore(s OrderedStore, rs []keyRange, before string, n int) ([]string, error) {
	var out []string
	for i := len(rs) - 1; i >= 0 && len(out) < n; i-- {
		r := rs[i]
		if before != "" && r.lo >= before {
			continue
		}
		hi := r.hi
		if before != "" && (hi == "" || before < hi) {
			hi = before
		}
		ks, err := s.KeysBefore(r.lo, hi, n-len(out))
		if err != nil {
			return nil, err
		}
		out = append(ks, out...)
	}
	return out, nil
}

// inRanges reports whether k lies in one of rs.
func inRanges(rs []keyRange, k string) bool {
	for _, r := range rs {
		if k >= r.lo && (r.hi == "" || k < r.hi) {
			return true
		}
	}
	return false
}

// successor is the first key after k in byte order.
func successor(k string) string { return k + "\x00" }
