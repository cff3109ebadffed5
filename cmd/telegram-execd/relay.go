package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
)

// maxPending bounds the events held while Telegram is unreachable; beyond it
// the oldest are dropped (and said so) rather than growing without end.
const maxPending = 10000

// relay feeds the line protocol that Telegraf's outputs.execd writes on stdin
// to an output, in place of the shim's own output loop, which does two things
// an alert channel cannot afford: it splits its input on newlines, so an
// event whose message spans lines (all of alertstate's do) fails to parse;
// and it drops a batch whose Write failed. The relay parses the stream as
// Telegraf does and keeps failed events until a later Write delivers them;
// outputs.telegram remembers what it delivered, so a retry sends nothing
// twice.
type relay struct {
	out        telegraf.Output
	batchWait  time.Duration
	retryEvery time.Duration
	stderr     io.Writer

	pending []telegraf.Metric
}

// run returns when the input ends, after one last attempt at what is pending.
func (r *relay) run(in io.Reader) {
	metrics := make(chan telegraf.Metric)
	go r.read(in, metrics)

	retry := time.NewTicker(r.retryEvery)
	defer retry.Stop()
	// The events of one scan arrive together: wait a moment after the first
	// so that they go out as one batch.
	var flushSoon <-chan time.Time
	for {
		select {
		case m, ok := <-metrics:
			if !ok {
				r.flush()
				if n := len(r.pending); n > 0 {
					fmt.Fprintf(r.stderr, "telegram-execd: input closed with %d events undelivered\n", n)
				}
				return
			}
			r.hold(m)
			if flushSoon == nil {
				flushSoon = time.After(r.batchWait)
			}
		case <-flushSoon:
			flushSoon = nil
			r.flush()
		case <-retry.C:
			r.flush()
		}
	}
}

func (r *relay) read(in io.Reader, metrics chan<- telegraf.Metric) {
	defer close(metrics)
	parser := influx.NewStreamParser(in)
	for {
		m, err := parser.Next()
		if errors.Is(err, influx.EOF) {
			return
		}
		var parseErr *influx.ParseError
		if errors.As(err, &parseErr) {
			fmt.Fprintf(r.stderr, "telegram-execd: skipping a line that is not line protocol: %v\n", parseErr)
			continue
		}
		if err != nil {
			fmt.Fprintf(r.stderr, "telegram-execd: reading stdin: %v\n", err)
			return
		}
		metrics <- m
	}
}

func (r *relay) hold(m telegraf.Metric) {
	if len(r.pending) == maxPending {
		fmt.Fprintf(r.stderr, "telegram-execd: %d events pending, dropping the oldest\n", maxPending)
		r.pending = r.pending[1:]
	}
	r.pending = append(r.pending, m)
}

func (r *relay) flush() {
	if len(r.pending) == 0 {
		return
	}
	if err := r.out.Write(r.pending); err != nil {
		fmt.Fprintf(r.stderr, "telegram-execd: %d events kept for a retry: %v\n", len(r.pending), err)
		return
	}
	r.pending = r.pending[:0]
}
