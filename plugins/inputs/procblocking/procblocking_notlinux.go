//go:build !linux

package procblocking

import "github.com/influxdata/telegraf"

// runState holds nothing where there is no /proc to scan.
type runState struct{}

func (p *ProcBlocking) Init() error {
	p.Log.Warn("Current platform is not supported: the plugin reads /proc, which only Linux has")
	return nil
}

func (*ProcBlocking) Gather(telegraf.Accumulator) error { return nil }
