package main

import (
	"fmt"
	"strings"

	"github.com/influxdata/telegraf/config"
)

// selectNone is a plugin filter that no plugin's name matches: Telegraf's
// filters select the plugins named in them when they are not empty.
var selectNone = []string{"\x00none"}

// loaded is a configuration ready to run.
type loaded struct {
	config *config.Config
	// source names what was loaded, for the start-up log.
	source string
	// notices are log lines about the loading, printed once the agent's
	// logging is set up so that they reach its log target.
	notices []string
	// release removes what the load made for the run alone (the copies of
	// the state files a test run works on).
	release func()
}

// configFiles lists the files to load; nil means the embedded default.
func (o *options) configFiles() ([]string, error) {
	files := append([]string(nil), o.configs...)
	for _, dir := range o.configDirs {
		found, err := config.WalkDirectory(dir)
		if err != nil {
			return nil, fmt.Errorf("reading config directory %q: %w", dir, err)
		}
		files = append(files, found...)
	}
	if len(files) == 0 && (len(o.configs) > 0 || len(o.configDirs) > 0) {
		return nil, fmt.Errorf("no config files found in %q", []string(o.configDirs))
	}
	return files, nil
}

// loadConfig builds a new configuration from scratch: Telegraf's Config is
// not meant to be loaded twice, so every (re)load starts over.
//
// Telegraf builds the outputs, and opens their disk buffers, while it loads
// the configuration. So in test mode the outputs are left out of the load
// (nothing may be created or sent), and otherwise the disk buffers are checked
// before the load that opens them.
func loadConfig(o *options) (*loaded, error) {
	files, err := o.configFiles()
	if err != nil {
		return nil, err
	}
	l := &loaded{source: strings.Join(files, ", "), release: func() {}}
	if files == nil {
		l.source = defaultConfigName + " (no --config or --config-directory given)"
	}

	if !o.testMode() {
		agentOnly := config.NewConfig()
		agentOnly.Agent.Quiet = true // the real load says what it loads
		agentOnly.InputFilters = selectNone
		agentOnly.OutputFilters = selectNone
		agentOnly.SecretStoreFilters = selectNone
		if err := loadFiles(agentOnly, files, false); err != nil {
			return nil, err
		}
		l.notices, err = checkDiskBuffers(agentOnly.Agent)
		if err != nil {
			return nil, err
		}
	}

	c := config.NewConfig()
	c.Agent.Quiet = o.quiet
	c.InputFilters = splitFilter(o.inputFilter)
	c.OutputFilters = splitFilter(o.outputFilter)
	c.SecretStoreFilters = splitFilter(o.storeFilter)
	if o.testMode() {
		c.OutputFilters = selectNone
	}
	if err := loadFiles(c, files, true); err != nil {
		return nil, err
	}
	if o.testMode() {
		// Test mode never stores Telegraf's statefile; dropping it says so.
		c.Agent.Statefile = ""
		c.Persister = nil
	}
	if n := useHostEtcHostname(c); n != "" {
		l.notices = append(l.notices, n)
	}
	notices, err := placeAlertStates(c)
	if err != nil {
		return nil, err
	}
	l.notices = append(l.notices, notices...)
	if o.testMode() {
		notices, release, err := copyStateFiles(c)
		if err != nil {
			return nil, err
		}
		l.notices, l.release = append(l.notices, notices...), release
		l.notices = append(l.notices, quietChatPollers(c)...)
	}
	l.config = c
	return l, nil
}

// loadFiles loads the files, or the embedded default when there are none.
// Without link, secrets are not linked to their stores: a load that only
// looks at [agent] must not initialize secret stores.
func loadFiles(c *config.Config, files []string, link bool) error {
	if files == nil {
		if err := c.LoadConfigData(defaultConfig, defaultConfigName); err != nil {
			return fmt.Errorf("loading %s failed: %w", defaultConfigName, err)
		}
		if !link {
			return nil
		}
		return c.LinkSecrets()
	}
	if link {
		return c.LoadAll(files...)
	}
	for _, f := range files {
		if err := c.LoadConfig(f); err != nil {
			return err
		}
	}
	return nil
}
