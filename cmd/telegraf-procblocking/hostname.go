package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/influxdata/telegraf/config"

	"github.com/procblocking/procblocking/internal/atomicfile"
)

// maxHostnameFile bounds what is read of $HOST_ETC/hostname.
const maxHostnameFile = 4096

// useHostEtcHostname makes the host's name, from $HOST_ETC/hostname, the
// agent's hostname and the host tag when the configuration leaves the
// hostname to Telegraf and Telegraf would take the container's: a container
// gets a new name when it is recreated, and the alert state is keyed by the
// host tag. It returns a log line saying what it did, or "".
//
// Telegraf fills an empty [agent] hostname with os.Hostname() while it
// loads, so an unset or empty hostname is recognised by that value.
func useHostEtcHostname(c *config.Config) string {
	etc := os.Getenv("HOST_ETC")
	if etc == "" || c.Agent.OmitHostname {
		return ""
	}
	own, err := os.Hostname()
	if err != nil || c.Agent.Hostname != own {
		return ""
	}
	path := filepath.Join(etc, "hostname")
	data, err := atomicfile.Read(path, maxHostnameFile)
	if err != nil {
		return fmt.Sprintf("W! Not using the host's name from $HOST_ETC: %v; the host tag is this machine's name %q", err, own)
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	name := string(bytes.TrimSpace(line))
	if name == "" {
		return fmt.Sprintf("W! Not using the host's name from $HOST_ETC: %q is empty; the host tag is this machine's name %q", path, own)
	}
	c.Agent.Hostname = name
	c.Tags["host"] = name
	return fmt.Sprintf("I! Hostname %q from %s", name, path)
}
