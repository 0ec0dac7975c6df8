package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

var versionVerb = verb{
	name:    "version",
	args:    "",
	summary: "print the version of crabkv",
	help: `
Version prints the module version crabkv was built from ("(devel)" for a
build from a source tree), the version control revision and whether the
tree had uncommitted changes, when the build recorded them, and the Go
version. "crabkv --version" does the same.`,
	run: runVersion,
}

func runVersion(e *env, v *verb, args []string) int {
	fs := e.flagSet(v)
	if _, code, ok := e.parse(v, fs, args, 0, 0); !ok {
		return code
	}
	return e.printVersion()
}

// printVersion writes the version line to stdout, reporting a failed write.
func (e *env) printVersion() int {
	if _, err := fmt.Fprintln(e.stdout, versionLine()); err != nil {
		return e.fail(fmt.Errorf("write: %w", err))
	}
	return exitOK
}

// versionLine describes the build from the information the Go toolchain
// records in the binary: "crabkv v1.2.0 (rev 0123456789ab, modified) go1.26.0".
func versionLine() string { return versionFrom(debug.ReadBuildInfo()) }

// versionFrom is versionLine for the given build information.
func versionFrom(info *debug.BuildInfo, ok bool) string {
	if !ok {
		return "crabkv (unknown) " + runtime.Version()
	}
	version := info.Main.Version
	if version == "" {
		version = "(devel)"
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value[:min(len(s.Value), 12)]
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if rev != "" {
		version += fmt.Sprintf(" (rev %s%s)", rev, modified)
	}
	return fmt.Sprintf("crabkv %s %s", version, info.GoVersion)
}
