package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/crabkv/crabkv/kv"
)

func TestDisplay(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		allowLayout bool
		tty         string // printed on a terminal
	}{
		{"plain", "hello", false, "hello"},
		{"unicode", "värde ☃", false, "värde ☃"},
		{"space", "a b", false, "a b"},
		{"empty", "", false, ""},
		{"escape", "\x1b[31mred", false, `"\x1b[31mred"`},
		{"bell", "a\ab", true, `"a\ab"`},
		{"newline key", "a\nb", false, `"a\nb"`},
		{"newline value", "a\nb\tc", true, "a\nb\tc"},
		{"carriage return", "a\rb", true, `"a\rb"`},
		{"invalid utf8", "a\xffb", true, `"a\xffb"`},
		{"nul", "a\x00", true, `"a\x00"`},
		{"bidi override", "a\u202eb", true, `"a\u202eb"`},
		{"c1 control", "a\u009bb", true, `"a\u009bb"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(display([]byte(tt.in), true, tt.allowLayout)); got != tt.tty {
				t.Errorf("display on a terminal = %q, want %q", got, tt.tty)
			}
			if got := string(display([]byte(tt.in), false, tt.allowLayout)); got != tt.in {
				t.Errorf("display on a pipe = %q, want the exact bytes %q", got, tt.in)
			}
		})
	}
}

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB (1024 B)"},
		{1536, "1.5 KiB (1536 B)"},
		{5 << 20, "5.0 MiB (5242880 B)"},
		{3 << 30, "3.0 GiB (3221225472 B)"},
	}
	for _, tt := range tests {
		if got := humanBytes(tt.n); got != tt.want {
			t.Errorf("humanBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
	if got := shortBytes(1536); got != "1.5 KiB" {
		t.Errorf("shortBytes(1536) = %q, want %q", got, "1.5 KiB")
	}
}

func TestFormatStats(t *testing.T) {
	got := formatStats(kv.Stats{Keys: 3, LogBytes: 2048, LiveBytes: 1024, StaleBytes: 1008, Compactions: 2, IndexBytes: 16384, ReplayedBytes: 512}, "")
	want := `keys: 3
log: 2.0 KiB (2048 B)
live: 1.0 KiB (1024 B)
stale: 1008 B, 49.2% of the log
compactions: 2
index memory: 16.0 KiB (16384 B)
past the hint: 512 B, 25.0% of the log
`
	if got != want {
		t.Errorf("formatStats:\n%s\nwant:\n%s", got, want)
	}
	// An empty log must not divide by zero.
	if got := formatStats(kv.Stats{}, ""); !strings.Contains(got, "stale: 0 B, 0.0% of the log\n") {
		t.Errorf("formatStats(empty) = %q", got)
	}
}

func TestFormatCompaction(t *testing.T) {
	got := formatCompaction(&kv.CompactionEvent{
		OldSize: 4 << 20, NewSize: 1 << 20, Duration: 12345 * time.Microsecond, Kept: 10, Dropped: 30,
	})
	want := "compacted: 4.0 MiB → 1.0 MiB, reclaimed 3.0 MiB (75.0%) in 12.3ms; kept 10 records, dropped 30"
	if got != want {
		t.Errorf("formatCompaction = %q, want %q", got, want)
	}
	// Most compactions drop none of the records they read.
	got = formatCompaction(&kv.CompactionEvent{OldSize: 4 << 20, NewSize: 1 << 20, Duration: time.Millisecond, Kept: 10})
	if want := "compacted: 4.0 MiB → 1.0 MiB, reclaimed 3.0 MiB (75.0%) in 1ms; kept 10 records"; got != want {
		t.Errorf("formatCompaction = %q, want %q", got, want)
	}
}

func TestProgressPlain(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, false)
	p.show(kv.CompactionEvent{Kind: kv.CompactionStarted, LogBytes: 4096, StaleBytes: 1024})
	for done := int64(0); done <= 4096; done += 256 {
		p.show(kv.CompactionEvent{Kind: kv.CompactionProgress, Done: done, Total: 4096})
	}
	p.clear()
	want := `compacting 4.0 KiB log, 1.0 KiB stale
compacting: 25% (1.0 KiB of 4.0 KiB)
compacting: 50% (2.0 KiB of 4.0 KiB)
compacting: 75% (3.0 KiB of 4.0 KiB)
compacting: 100% (4.0 KiB of 4.0 KiB)
`
	if buf.String() != want {
		t.Errorf("plain progress:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestProgressTerminal(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, true)
	p.show(kv.CompactionEvent{Kind: kv.CompactionStarted, LogBytes: 100})
	p.show(kv.CompactionEvent{Kind: kv.CompactionProgress, Done: 50, Total: 100})
	p.clear()
	out := buf.String()
	if strings.Contains(out, "\n") {
		t.Errorf("terminal progress wrote a newline: %q", out)
	}
	if !strings.Contains(out, "\r["+strings.Repeat("=", 15)+strings.Repeat(" ", 15)+"]  50%") {
		t.Errorf("terminal progress has no half-full bar: %q", out)
	}
	if !strings.HasSuffix(out, "\r\x1b[K") {
		t.Errorf("terminal progress was not cleared: %q", out)
	}
}

func TestBar(t *testing.T) {
	for _, tt := range []struct {
		pct  float64
		want string
	}{
		{0, "[    ]"}, {50, "[==  ]"}, {100, "[====]"}, {150, "[====]"}, {-5, "[    ]"},
	} {
		if got := bar(tt.pct, 4); got != tt.want {
			t.Errorf("bar(%v, 4) = %q, want %q", tt.pct, got, tt.want)
		}
	}
}
