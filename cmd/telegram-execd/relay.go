package main

import (
	"errors"
	"io"
	"log"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/parsers/influx"

	"github.com/procblocking/procblocking/plugins/outputs/telegram"
)

// relay feeds the line protocol that Telegraf's outputs.execd writes on stdin
// to an output, in place of the shim's own output loop, which splits its
// input on newlines: an event whose message spans lines (all of
// alertstate's do) would fail to parse. The relay parses the stream as
// Telegraf does and hands the events to the output, whose queue keeps and
// retries them.
type relay struct {
	out       telegraf.Output
	batchWait time.Duration
	log       *log.Logger

	pending []telegraf.Metric
	warned  bool // that the queue is in memory only
}

// run returns when the input ends, after handing over what it holds.
func (r *relay) run(in io.Reader) {
	metrics := make(chan telegraf.Metric)
	go r.read(in, metrics)

	// The events of one scan arrive together: wait a moment after the first
	// so that they are queued as one batch (one write to the disk).
	var flushSoon <-chan time.Time
	for {
		select {
		case m, ok := <-metrics:
			if !ok {
				r.flush()
				return
			}
			r.pending = append(r.pending, m)
			if flushSoon == nil {
				flushSoon = time.After(r.batchWait)
			}
		case <-flushSoon:
			flushSoon = nil
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
			r.log.Printf("Skipping a line that is not line protocol: %v", parseErr)
			continue
		}
		if err != nil {
			r.log.Printf("Reading stdin: %v", err)
			return
		}
		metrics <- m
	}
}

func (r *relay) flush() {
	if len(r.pending) == 0 {
		return
	}
	err := r.out.Write(r.pending)
	switch {
	case errors.Is(err, telegram.ErrNotDelivered):
		// Queued: the output delivers it, but nothing behind the relay
		// can keep the batch as Telegraf's buffer would.
		if !r.warned {
			r.warned = true
			r.log.Printf("Events not yet delivered are queued in memory only: a crash loses them; give --state-directory to keep them on disk")
		}
	case err != nil:
		r.log.Printf("Could not queue %d events: %v", len(r.pending), err)
	}
	r.pending = r.pending[:0]
}
