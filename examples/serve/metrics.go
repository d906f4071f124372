package main

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the service's Prometheus metrics, on their own registry (no
// global state): requests by path and status, request latency by path,
// items served, items added and reloads. The zero of every method is safe
// on a nil *metrics (a handler built without metrics).
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	addedN   prometheus.Counter
	reloads  *prometheus.CounterVec
}

// newMetrics registers the metrics of svc (items served is read from its
// current model at scrape time).
func newMetrics(svc *service) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
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
		Name: "llmrec_model_reloads_total", Help: "Model reloads by result (ok, error).",
	}, []string{"result"})
	items := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "llmrec_items_served", Help: "Items the served model ranks (including added ones).",
	}, func() float64 { return float64(svc.cur.Load().rec.NumItems()) })
	m.reg.MustRegister(m.requests, m.latency, m.addedN, m.reloads, items,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	svc.metrics = m
	return m
}

// handler returns the /metrics endpoint.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// pathLabel keeps the path label's values to the known endpoints.
func pathLabel(p string) string {
	switch p {
	case "/recommend", "/items", "/healthz", "/metrics":
		return p
	}
	return "other"
}

// observe counts one answered request.
func (m *metrics) observe(path string, status int, took time.Duration) {
	if m == nil {
		return
	}
	p := pathLabel(path)
	m.requests.WithLabelValues(p, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(p).Observe(took.Seconds())
}

func (m *metrics) added(n int) {
	if m != nil {
		m.addedN.Add(float64(n))
	}
}

func (m *metrics) reload(ok bool) {
	if m == nil {
		return
	}
	if ok {
		m.reloads.WithLabelValues("ok").Inc()
	} else {
		m.reloads.WithLabelValues("error").Inc()
	}
}

// instrument wraps h to count every request in m.
func (m *metrics) instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		m.observe(r.URL.Path, status, time.Since(start))
	})
}
