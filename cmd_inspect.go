package main

// runInspector is what crabkv does when no verb is given. The terminal
// inspector is not built yet, so for now it shows the usage and succeeds.
func runInspector(e *env, args []string) int {
	printToolUsage(e.stdout)
	return exitOK
}
