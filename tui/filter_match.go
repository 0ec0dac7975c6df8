package tui

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// FilterKeys returns the keys of the sorted slice keys that match query: a
// query starting with ^ matches keys with that prefix, any other query keys
// that contain it. The match is smart-case: a query with no capital letter
// ignores case, one with a capital letter matches case exactly. The empty
// query matches every key. The result is sorted and may share memory with
// keys.
func FilterKeys(keys []string, query string) []string {
	if sharesSnapshot(query) {
		if prefix, ok := strings.CutPrefix(query, "^"); ok {
			return prefixRange(keys, prefix)
		}
		return keys
	}
	var out []string
	for _, k := range keys {
		if MatchKey(k, query) {
			out = append(out, k)
		}
	}
	return out
}

// MatchKey reports whether FilterKeys would keep k for query.
func MatchKey(k, query string) bool {
	prefix, isPrefix := strings.CutPrefix(query, "^")
	if isPrefix {
		query = prefix
	}
	if !ignoresCase(query) {
		if isPrefix {
			return strings.HasPrefix(k, query)
		}
		return strings.Contains(k, query)
	}
	if isPrefix && isASCII(query) {
		return len(k) >= len(query) && strings.EqualFold(k[:len(query)], query)
	}
	if isPrefix {
		return strings.HasPrefix(strings.ToLower(k), query)
	}
	return containsFold(k, query)
}

// sharesSnapshot reports whether query's matches are the snapshot itself
// or one range of it (an exact-case prefix), found without a scan.
func sharesSnapshot(query string) bool {
	if query == "" {
		return true
	}
	prefix, ok := strings.CutPrefix(query, "^")
	return ok && !ignoresCase(prefix)
}

// ignoresCase reports whether query is matched without regard to case: it
// has a lower-case letter and no capital one.
func ignoresCase(query string) bool {
	lower := false
	for _, r := range query {
		switch {
		case unicode.IsUpper(r) || unicode.IsTitle(r):
			return false
		case unicode.IsLower(r):
			lower = true
		}
	}
	return lower
}

// containsFold reports whether s contains sub, which is in lower case,
// ignoring case. ASCII needles, the common case, are matched without
// allocating.
func containsFold(s, sub string) bool {
	if !isASCII(sub) {
		return strings.Contains(strings.ToLower(s), sub)
	}
	n := len(sub)
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for ; j < n; j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
		}
		if j == n {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func prefixRange(keys []string, prefix string) []string {
	lo := sort.SearchStrings(keys, prefix)
	hi := lo + sort.Search(len(keys)-lo, func(i int) bool {
		return !strings.HasPrefix(keys[lo+i], prefix)
	})
	return keys[lo:hi:hi]
}
