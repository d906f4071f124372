package main

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/llmrec/llmrec/backbone/serve"
)

// metrics are the service's Prometheus metrics, on their own registry (no
// global state): requests by route and status, request latency by route,
// items served, items added and reloads by result. It implements
// serve.Metrics, which is how the library reports them without depending on
// a metrics client.
type metrics struct {
	log      *slog.Logger
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	addedN   prometheus.Counter
	reloads  *prometheus.CounterVec
}

// newMetrics registers the metrics; items served is read from items() at
// scrape time (set once the handler exists). Every request is also logged
// to log.
func newMetrics(items func() int, log *slog.Logger) *metrics {
	m := &metrics{log: log, reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "llmrec_http_requests_total", Help: "HTTP requests by path and status code.",
	}, []string{"path", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "llmrec_http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by path.",
		Buckets: []float64{50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 20e-3, 50e-3, 100e-3, 250e-3, 1},
	}, []string{"path"})
	m.addedN = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "llmrec_items_added_total", Help: "Items added through POST /items since the start.",
	})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "llmrec_model_reloads_total", Help: "Model reloads by result (ok; error: the file did not load; refused: it cannot keep the added items).",
	}, []string{"result"})
	itemsGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "llmrec_items_served", Help: "Items the served model ranks (including added ones).",
	}, func() float64 { return float64(items()) })
	m.reg.MustRegister(m.requests, m.latency, m.addedN, m.reloads, itemsGauge,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// handler returns the /metrics endpoint.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Request implements serve.Metrics: it counts the request and logs one
// line, Debug for successes, Info for client errors, Error for server
// errors.
func (m *metrics) Request(route string, status int, took time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(took.Seconds())
	level := slog.LevelDebug
	switch {
	case status >= 500:
		level = slog.LevelError
	case status >= 400:
		level = slog.LevelInfo
	}
	m.log.Log(context.Background(), level, "request", "route", route, "status", status, "took", took)
}

// ItemsAdded implements serve.Metrics.
func (m *metrics) ItemsAdded(n int) { m.addedN.Add(float64(n)) }

// Reload implements serve.Metrics.
func (m *metrics) Reload(result string) { m.reloads.WithLabelValues(result).Inc() }

var _ serve.Metrics = (*metrics)(nil)
