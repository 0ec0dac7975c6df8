package server

// match reports whether s matches the glob pattern as Redis's KEYS, SCAN
// MATCH and SUBSCRIBE patterns do: '*' any run of bytes, '?' one byte,
// '[abc]', '[^abc]' and '[a-z]' a byte in (or not in) a set, and '\x' the
// byte x itself. Unlike path.Match, '*' and '?' match '/' too, and a
// malformed pattern matches what it can instead of being an error.
func match(pattern, s []byte) bool {
	// px, sx: where to resume after the last '*', to backtrack in linear
	// space; the loop runs at most len(pattern)*len(s) steps.
	px, sx := -1, -1
	p, i := 0, 0
	for i < len(s) || p < len(pattern) {
		if p < len(pattern) {
			if pattern[p] == '*' {
				px, sx = p, i
				p++
				continue
			}
			if i < len(s) {
				if n, ok := matchOne(pattern[p:], s[i]); ok {
					p += n
					i++
					continue
				}
			}
		}
		if px < 0 || sx >= len(s) {
			return false
		}
		sx++
		p, i = px+1, sx
	}
	return true
}

// matchOne matches one byte against the pattern element at the start of
// pattern (not '*') and returns the element's length.
func matchOne(pattern []byte, b byte) (int, bool) {
	switch pattern[0] {
	case '?':
		return 1, true
	case '\\':
		if len(pattern) > 1 {
			return 2, pattern[1] == b
		}
		return 1, b == '\\'
	case '[':
		return matchClass(pattern, b)
	}
	return 1, pattern[0] == b
}

// matchClass matches b against the class at the start of pattern. An
// unclosed class runs to the end of the pattern, as in Redis.
func matchClass(pattern []byte, b byte) (int, bool) {
	i := 1
	not := i < len(pattern) && pattern[i] == '^'
	if not {
		i++
	}
	found := false
	for i < len(pattern) && pattern[i] != ']' {
		switch {
		case pattern[i] == '\\' && i+1 < len(pattern):
			found = found || pattern[i+1] == b
			i += 2
		case i+2 < len(pattern) && pattern[i+1] == '-': // even "x-]", as Redis reads it
			lo, hi := pattern[i], pattern[i+2]
			if lo > hi {
				lo, hi = hi, lo
			}
			found = found || (b >= lo && b <= hi)
			i += 3
		default:
			found = found || pattern[i] == b
			i++
		}
	}
	if i < len(pattern) {
		i++ // the closing ']'
	}
	return i, found != not
}
