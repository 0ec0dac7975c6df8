package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scrape fetches path from the admin handler and returns status and body.
func scrape(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// metricValue returns the value of the sample whose name and labels are
// exactly series, or -1 if there is none.
func metricValue(t *testing.T, body, series string) float64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAdminMetrics(t *testing.T) {
	s, addr := startServer(t, Options{})
	admin := httptest.NewServer(s.AdminHandler())
	defer admin.Close()
	c := dialClient(t, addr)
	ctx := testCtx(t)

	if code, body := scrape(t, admin.URL+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("/healthz = %d %q", code, body)
	}
	for i := range 3 {
		if err := c.Set(ctx, "k"+strconv.Itoa(i), "value", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	c.Get(ctx, "k0")
	c.Get(ctx, "missing")
	c.Do(ctx, "NOSUCH")
	c.Do(ctx, "GET") // wrong arity
	c.Expire(ctx, "k1", time.Hour)
	c.TTL(ctx, "k1")
	c.MSetNX(ctx, "k1", "x")
	pipe := c.Pipeline()
	for i := range 5 {
		pipe.Set(ctx, "p"+strconv.Itoa(i), "v", 0)
	}
	pipe.Del(ctx, "p0")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}

	code, body := scrape(t, admin.URL+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	for series, want := range map[string]float64{
		`crabkv_commands_total{command="set",result="ok"}`:        8,
		`crabkv_commands_total{command="get",result="ok"}`:        2,
		`crabkv_commands_total{command="get",result="error"}`:     1,
		`crabkv_commands_total{command="unknown",result="error"}`: 1,
		`crabkv_commands_total{command="del",result="ok"}`:        1,
		`crabkv_commands_total{command="expire",result="ok"}`:     1,
		`crabkv_commands_total{command="ttl",result="ok"}`:        1,
		`crabkv_commands_total{command="msetnx",result="ok"}`:     1,
		`crabkv_commands_total{command="ping",result="ok"}`:       0,
		`crabkv_command_duration_seconds_count{command="set"}`:    8,
		`crabkv_keys`:              7,
		`crabkv_connections`:       float64(s.Clients()),
		`crabkv_compactions_total`: 0,
		`crabkv_checkpoints_total`: 0,
		`crabkv_replayed_bytes`:    0,  // a new store
		`crabkv_stale_bytes`:       -2, // checked below
	} {
		got := metricValue(t, body, series)
		if want == -2 {
			if got < 0 {
				t.Errorf("%s missing", series)
			}
			continue
		}
		if got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if n := metricValue(t, body, "crabkv_connections_accepted_total"); n < 1 {
		t.Errorf("crabkv_connections_accepted_total = %v", n)
	}
	if live := metricValue(t, body, "crabkv_live_bytes"); live <= 0 {
		t.Errorf("crabkv_live_bytes = %v", live)
	}
	if !strings.Contains(body, `crabkv_command_duration_seconds_bucket{command="get",le="+Inf"} 3`) {
		t.Error("no latency histogram for GET")
	}

	// A compaction is counted.
	if err := c.Do(ctx, "CRABKV.COMPACT").Err(); err != nil {
		t.Fatal(err)
	}
	_, body = scrape(t, admin.URL+"/metrics")
	if got := metricValue(t, body, "crabkv_compactions_total"); got != 1 {
		t.Errorf("crabkv_compactions_total after CRABKV.COMPACT = %v", got)
	}

	// Shutting down, the server reports itself unhealthy.
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code, _ := scrape(t, admin.URL+"/healthz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/healthz after Shutdown = %d", code)
	}
}

// TestMetricsRegistriesApart checks that two servers in one process keep
// their metrics apart (each has its own registry).
func TestMetricsRegistriesApart(t *testing.T) {
	s1, addr1 := startServer(t, Options{})
	s2, _ := startServer(t, Options{})
	ctx := testCtx(t)
	if err := dialClient(t, addr1).Set(ctx, "a", "b", 0).Err(); err != nil {
		t.Fatal(err)
	}
	a1 := httptest.NewServer(s1.AdminHandler())
	defer a1.Close()
	a2 := httptest.NewServer(s2.AdminHandler())
	defer a2.Close()
	_, b1 := scrape(t, a1.URL+"/metrics")
	_, b2 := scrape(t, a2.URL+"/metrics")
	if metricValue(t, b1, `crabkv_commands_total{command="set",result="ok"}`) != 1 ||
		metricValue(t, b2, `crabkv_commands_total{command="set",result="ok"}`) != 0 {
		t.Fatal("the servers' command counts are mixed")
	}
}
