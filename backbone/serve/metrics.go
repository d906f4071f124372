package serve

import "time"

// Metrics receives what a Handler counts. The caller implements it with the
// metrics client of its choice (examples/serve uses Prometheus), so that
// this package depends on none. Its methods are called from many
// goroutines at once and must be safe for concurrent use; they should be
// cheap (they run on the request path).
type Metrics interface {
	// Request is called once per answered request with its route
	// ("/recommend", "/items", "/healthz" or "other"), status code and
	// duration.
	Request(route string, status int, took time.Duration)
	// ItemsAdded is called with the number of items each successful
	// addition committed.
	ItemsAdded(n int)
	// Reload is called once per reload attempt with its result: ReloadOK,
	// ReloadError (the file could not be loaded or served) or ReloadRefused
	// (it loaded but cannot keep the added items; ErrReloadRefused).
	Reload(result string)
}

// Reload results passed to Metrics.Reload.
const (
	ReloadOK      = "ok"
	ReloadError   = "error"
	ReloadRefused = "refused"
)

// nopMetrics is used when Options.Metrics is nil.
type nopMetrics struct{}

func (nopMetrics) Request(string, int, time.Duration) {}
func (nopMetrics) ItemsAdded(int)                     {}
func (nopMetrics) Reload(string)                      {}
