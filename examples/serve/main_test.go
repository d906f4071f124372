package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmrec/llmrec/backbone/serve"
)

func TestParseByteSize(t *testing.T) {
	good := map[string]int64{
		"0": 0, "65536": 65536, "64KiB": 65536, "64kib": 65536, "64K": 65536, "64 KiB": 65536,
		"1MiB": 1 << 20, "2M": 2 << 20, "1GiB": 1 << 30, "64KB": 64000, "3MB": 3000000, "1GB": 1e9, "12B": 12,
	}
	for s, want := range good {
		got, err := parseByteSize(s)
		require.NoError(t, err, s)
		assert.Equal(t, want, got, s)
	}
	for _, s := range []string{"", "KiB", "-1", "1.5MiB", "abc", "12XB", "99999999999GiB"} {
		_, err := parseByteSize(s)
		assert.Error(t, err, s)
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parse([]string{"-model", "m.safetensors", "-max-body", "1MiB", "-max-k", "7", "-max-history", "30", "-addr", ":0"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "m.safetensors", o.model)
	assert.Equal(t, ":0", o.addr)
	assert.Equal(t, serve.Options{MaxK: 7, MaxBody: 1 << 20, MaxHistory: 30, MaxItemsBody: 16 << 20, MaxAddRows: 1000, MaxAdded: 10000}, o.opt)

	o, err = parse([]string{"-model", "m.safetensors"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, defaultOptions(), o.opt)
	assert.Equal(t, "127.0.0.1:8080", o.addr)

	for _, args := range [][]string{
		{},
		{"-model", "m", "-max-k", "0"},
		{"-model", "m", "-max-history", "-1"},
		{"-model", "m", "-max-body", "0"},
		{"-model", "m", "-max-body", "lots"},
		{"-model", "m", "-shutdown-timeout", "0s"},
		{"-model", "m", "-watch", "-1s"},
		{"-model", "m", "-max-add-rows", "0"},
		{"-model", "m", "-max-added", "0"},
		{"-model", "m", "extra"},
		{"-nope"},
	} {
		_, err := parse(args, io.Discard)
		assert.Error(t, err, "%q", args)
	}
	_, err = parse([]string{"-h"}, io.Discard)
	assert.ErrorIs(t, err, flag.ErrHelp)
}

func TestRunMissingModel(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"-model", filepath.Join(t.TempDir(), "none.safetensors"), "-addr", "127.0.0.1:0"}, &stderr, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "none.safetensors")
}

// syncBuffer is a bytes.Buffer safe for the server's and the test's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The command serves on a real listener and stops cleanly on SIGTERM, the
// way main wires it (signal.NotifyContext).
func TestRunGracefulShutdownOnSIGTERM(t *testing.T) {
	path, _ := tinyModel(t)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	addrCh := make(chan string, 1)
	errCh := make(chan error, 1)
	var logs syncBuffer
	go func() {
		errCh <- run(ctx, []string{"-model", path, "-addr", "127.0.0.1:0", "-shutdown-timeout", "5s"}, &logs,
			func(a string) { addrCh <- a })
	}()
	var addr string
	select {
	case addr = <-addrCh:
	case err := <-errCh:
		t.Fatalf("run returned before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start within 30 s")
	}
	url := "http://" + addr
	c := &http.Client{Timeout: 10 * time.Second}

	resp, err := c.Get(url + "/healthz")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), `"items":20`)

	code, text := postJSON(t, c, url+"/recommend", `{"history":[3,4,5],"k":1}`)
	require.Equal(t, http.StatusOK, code, text)
	var got serve.RecommendResponse
	require.NoError(t, json.Unmarshal([]byte(text), &got))
	assert.Equal(t, []int{6}, got.Items)

	resp, err = c.Post(url+"/recommend", "application/json", strings.NewReader(`{"history":[0]}`))
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, string(body), "item id 0 outside 1..20")

	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGTERM))
	select {
	case err := <-errCh:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop within 30 s of SIGTERM")
	}
	_, err = c.Get(url + "/healthz")
	assert.Error(t, err, "server still answering after shutdown")
	assert.True(t, errors.Is(ctx.Err(), context.Canceled))
	for _, want := range []string{"model loaded", "listening", "shutting down", "stopped", "status=400"} {
		assert.Contains(t, logs.String(), want)
	}
}

// A request that is half sent when shutdown starts is still answered: the
// server waits for active connections before run returns.
func TestRunShutdownWaitsForRequestInFlight(t *testing.T) {
	path, _ := tinyModel(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrCh := make(chan string, 1)
	errCh := make(chan error, 1)
	go func() {
		errCh <- run(ctx, []string{"-model", path, "-addr", "127.0.0.1:0"}, io.Discard, func(a string) { addrCh <- a })
	}()
	var addr string
	select {
	case addr = <-addrCh:
	case err := <-errCh:
		t.Fatalf("run returned before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start within 30 s")
	}
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
	body := `{"history":[3,4,5],"k":1}`
	head := "POST /recommend HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	_, err = io.WriteString(conn, head+body[:10])
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond) // let the server read the headers: the connection is now active
	cancel()
	time.Sleep(200 * time.Millisecond) // shutdown has begun and is waiting for us
	select {
	case err := <-errCh:
		t.Fatalf("run returned while a request was in flight: %v", err)
	default:
	}
	_, err = io.WriteString(conn, body[10:])
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	assert.JSONEq(t, `{"items":[6],"scores":[`+scoreOf(t, b)+`]}`, string(b))
	select {
	case err := <-errCh:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop after the request in flight finished")
	}
}

// scoreOf returns the first score of a recommend response as JSON text.
func scoreOf(t *testing.T, b []byte) string {
	t.Helper()
	var r struct {
		Scores []json.RawMessage `json:"scores"`
	}
	require.NoError(t, json.Unmarshal(b, &r))
	require.NotEmpty(t, r.Scores)
	return string(r.Scores[0])
}
