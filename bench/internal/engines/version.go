package engines

import "runtime/debug"

// moduleVersion returns the version of the module at path that this binary
// was built with, so the settings recorded with the results name the library
// actually measured rather than a copy of go.mod that can go stale.
func moduleVersion(path string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(version unknown)"
	}
	for _, m := range info.Deps {
		if m.Path == path {
			if m.Replace != nil && m.Replace.Version != "" {
				return m.Replace.Version
			}
			return m.Version
		}
	}
	return "(version unknown)"
}
