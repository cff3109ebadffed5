package main

import (
	"log"

	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/models"
	"github.com/influxdata/telegraf/plugins/processors"

	"github.com/procblocking/procblocking/plugins/processors/alertstate"
)

// heldState is the alert state of one alertstate processor, kept from an
// agent that stopped for a reload to hand to the next one.
type heldState struct {
	id    string
	state any
}

type alertStateProcessor struct {
	id     string
	plugin *alertstate.AlertState
}

// alertStates lists the alertstate processors among ps.
func alertStates(ps models.RunningProcessors) []alertStateProcessor {
	var out []alertStateProcessor
	for _, rp := range ps {
		u, ok := rp.Processor.(processors.HasUnwrap)
		if !ok {
			continue
		}
		if p, ok := u.Unwrap().(*alertstate.AlertState); ok {
			out = append(out, alertStateProcessor{id: rp.ID(), plugin: p})
		}
	}
	return out
}

// setDryRun makes every alertstate processor read its state file without
// ever writing it, for test mode. Processors run again after aggregators
// are separate instances and get it too.
func setDryRun(c *config.Config) {
	for _, p := range append(alertStates(c.Processors), alertStates(c.AggProcessors)...) {
		p.plugin.DryRun = true
	}
}

// heldStates takes the state of each alertstate processor of an agent that
// has stopped.
func heldStates(c *config.Config) []heldState {
	var out []heldState
	for _, p := range alertStates(c.Processors) {
		out = append(out, heldState{id: p.id, state: p.plugin.GetState()})
	}
	return out
}

// handOver gives the processors of a freshly loaded configuration, before
// they are initialized, the state their predecessors had: the one with the
// same plugin ID (a hash of its options), or the only one when the old and
// the new configuration have one alertstate each, so that editing an option
// of the only processor keeps its state too.
func handOver(c *config.Config, held []heldState) {
	if len(held) == 0 {
		return
	}
	next := alertStates(c.Processors)
	for _, p := range next {
		var from *heldState
		for i := range held {
			if held[i].id == p.id {
				from = &held[i]
				break
			}
		}
		if from == nil && len(next) == 1 && len(held) == 1 {
			from = &held[0]
		}
		if from == nil {
			continue
		}
		if err := p.plugin.SetState(from.state); err != nil {
			log.Printf("W! Handing the alert state over to the reloaded processors.alertstate failed, it starts from its state file or empty: %v", err)
		}
	}
}
