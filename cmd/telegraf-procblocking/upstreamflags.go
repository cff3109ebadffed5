package main

import (
	"fmt"
	"log"
	"os"
	"strings"
)

// unsupportedFlags are upstream Telegraf's flags this binary does not
// implement, each with what to do instead. They are refused by name, so that
// a command line written for upstream stops with a reason rather than runs
// with a flag silently meaning nothing.
var unsupportedFlags = map[string]string{
	"watch-config":               "send SIGHUP to reload the configuration",
	"watch-interval":             "send SIGHUP to reload the configuration",
	"watch-debounce-interval":    "send SIGHUP to reload the configuration",
	"config-url-watch-interval":  "configurations are files; send SIGHUP to reload them",
	"config-url-retry-attempts":  "configurations are files, not URLs",
	"plugin-directory":           "a static binary loads no Go plugins; run external plugins with inputs.execd, processors.execd or outputs.execd",
	"usage":                      "the plugins' documentation is their README; --sample-config prints their sample configurations",
	"section-filter":             "--sample-config prints every compiled-in plugin",
	"aggregator-filter":          "--sample-config prints every compiled-in plugin",
	"processor-filter":           "--sample-config prints every compiled-in plugin",
	"input-list":                 "--sample-config prints every compiled-in plugin",
	"output-list":                "--sample-config prints every compiled-in plugin",
	"deprecation-list":           "the compiled-in upstream plugins are those of plugins.go, at their current version",
	"print-plugin-config-source": "an error about a plugin names the file and line of its table",
	"pprof-addr":                 "profile with the benchmarks (make bench)",
	"password":                   "the docker and os secret stores need no password",
	"unprotected":                "secrets are protected in memory as upstream does by default",
	"old-env-behavior":           "environment variables are replaced as in current Telegraf",
	"strict-env-handling":        "environment variables are replaced as in current Telegraf",
	"non-strict-env-handling":    "environment variables are replaced as in current Telegraf",
	"select":                     "load only the config files to run with --config and --config-directory",
}

// unsupportedCommands are upstream Telegraf's subcommands, with what to do
// instead.
var unsupportedCommands = map[string]string{
	"config":  "--sample-config prints the sample configuration",
	"version": "use --version",
	"secrets": "secrets live in the docker or os secret store, managed by their own tools",
	"plugins": "--sample-config lists every compiled-in plugin",
	"service": "run it under systemd or a container engine (see the README)",
}

// refuseUnsupported returns an error for the first upstream flag of args
// that this binary does not implement: one or two dashes, the name, maybe
// '=' and a value; nothing after "--" is a flag.
func refuseUnsupported(args []string) error {
	for _, arg := range args {
		if arg == "--" {
			return nil
		}
		if !strings.HasPrefix(arg, "-") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		if why, ok := unsupportedFlags[name]; ok {
			return fmt.Errorf("--%s is upstream Telegraf's and not supported by telegraf-procblocking: %s", name, why)
		}
	}
	return nil
}

// splitFilter reads a plugin filter as upstream does: names separated by
// ':', empty ones dropped; nil selects every plugin.
func splitFilter(s string) []string {
	var out []string
	for _, name := range strings.Split(s, ":") {
		if name != "" {
			out = append(out, name)
		}
	}
	return out
}

// writePIDFile writes the process ID to path, as upstream's --pidfile does
// for a real run, and returns the function that removes it at the end.
func writePIDFile(path string) (func(), error) {
	if err := os.WriteFile(path, []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o640); err != nil {
		return nil, fmt.Errorf("writing --pidfile: %w", err)
	}
	return func() {
		if err := os.Remove(path); err != nil {
			log.Printf("E! Removing --pidfile: %v", err)
		}
	}, nil
}
