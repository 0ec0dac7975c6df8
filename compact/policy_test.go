package compact

import (
	"testing"
	"time"
)

func TestDue(t *testing.T) {
	def := Policy{}.WithDefaults()
	const mib = 1 << 20
	tests := []struct {
		name   string
		policy Policy
		state  State
		want   bool
	}{
		{"defaults, a third stale", def, State{LogBytes: 3 * mib, StaleBytes: mib}, true},
		{"defaults, just under a third", def, State{LogBytes: 3 * mib, StaleBytes: mib - 1}, false},
		{"defaults, log under 1 MiB", def, State{LogBytes: mib - 1, StaleBytes: mib - 1}, false},
		{"nothing stale", Policy{MinLogBytes: -1}.WithDefaults(), State{LogBytes: 100}, false},
		{"no minimum size", Policy{MinLogBytes: -1}.WithDefaults(), State{LogBytes: 30, StaleBytes: 10}, true},
		{"ratio one half", Policy{StaleRatio: 0.5}.WithDefaults(), State{LogBytes: 4 * mib, StaleBytes: 2*mib - 1}, false},
		{"disabled", Policy{Disabled: true}.WithDefaults(), State{LogBytes: 4 * mib, StaleBytes: 4 * mib}, false},
		{"interval not passed", Policy{MinInterval: time.Minute}.WithDefaults(), State{LogBytes: 4 * mib, StaleBytes: 4 * mib, SinceLast: time.Second}, false},
		{"interval passed", Policy{MinInterval: time.Minute}.WithDefaults(), State{LogBytes: 4 * mib, StaleBytes: 4 * mib, SinceLast: time.Hour}, true},
	}
	for _, tt := range tests {
		if got := tt.policy.Due(tt.state); got != tt.want {
			t.Errorf("%s: Due(%+v) = %v, want %v", tt.name, tt.state, got, tt.want)
		}
	}
}

func TestWithDefaults(t *testing.T) {
	p := Policy{}.WithDefaults()
	if p.StaleRatio != DefaultStaleRatio || p.MinLogBytes != DefaultMinLogBytes || p.FinishOnClose != DefaultFinishOnClose || p.Disabled {
		t.Fatalf("defaults: %+v", p)
	}
	custom := Policy{StaleRatio: 0.5, MinLogBytes: 10, MinInterval: time.Second, FinishOnClose: -1}
	if got := custom.WithDefaults(); got != custom {
		t.Fatalf("WithDefaults changed set fields: %+v", got)
	}
}

func TestValidate(t *testing.T) {
	for _, p := range []Policy{{StaleRatio: -0.1}, {StaleRatio: 1.5}, {MinInterval: -time.Second}} {
		if p.Validate() == nil {
			t.Errorf("%+v accepted", p)
		}
	}
	if err := (Policy{StaleRatio: 1}).Validate(); err != nil {
		t.Errorf("ratio 1 rejected: %v", err)
	}
}
