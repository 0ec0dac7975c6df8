package server

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// AdminHandler serves the server's HTTP admin endpoints:
//
//   - /healthz answers 200 "ok" while the server serves, and 503 once it is
//     shutting down, so that a load balancer stops sending clients to it;
//   - /metrics serves the Prometheus metrics: commands by name and result,
//     their latency, connections, and the store's keys, live and stale
//     bytes and compactions.
//
// Serve it on a listener of its own (crabkv serve --admin); it carries no
// authentication, so keep that listener on loopback or a private network.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if s.isClosing() {
			w.WriteHeader(http.StatusServiceUnavailable)
			// The status says it; the body is a courtesy.
			_, _ = w.Write([]byte("shutting down\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{
		ErrorLog: slogPrinter{s},
	}))
	return mux
}

// slogPrinter passes promhttp's error messages to the server's logger.
type slogPrinter struct{ s *Server }

func (p slogPrinter) Println(v ...any) { p.s.opts.Logger.Error("metrics", "err", v) }
