// Command telegraf-procblocking is Telegraf's agent with the procblocking
// input, the alertstate processor and the telegram output compiled in, plus
// the few upstream plugins its deployments use.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"maps"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/influxdata/telegraf/agent"
	"github.com/influxdata/telegraf/logger"
	"github.com/influxdata/telegraf/plugins/aggregators"
	"github.com/influxdata/telegraf/plugins/inputs"
	"github.com/influxdata/telegraf/plugins/outputs"
	"github.com/influxdata/telegraf/plugins/processors"
)

// version is set at link time by `make build` (-ldflags -X main.version=...).
var version = "dev"

// The configuration run when neither --config nor --config-directory is given,
// so that the binary alone is a working watchdog.
//
//go:embed default.conf
var defaultConfig []byte

const defaultConfigName = "embedded default.conf"

// stringList is a repeatable string flag (--config a --config b).
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

type options struct {
	configs      stringList
	configDirs   stringList
	test         bool
	testWait     int
	once         bool
	debug        bool
	quiet        bool
	version      bool
	sampleConfig bool
	inputFilter  string
	outputFilter string
	storeFilter  string
	pidFile      string
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("telegraf-procblocking", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&o.configs, "config", "configuration file to load (repeatable)")
	fs.Var(&o.configDirs, "config-directory", "directory of *.conf files to load (repeatable)")
	fs.BoolVar(&o.test, "test", false, "gather once through the processors, print line protocol on stdout and exit")
	fs.IntVar(&o.testWait, "test-wait", 0, "a test run as --test that waits this many seconds for service inputs; with --once, the wait of --once")
	fs.BoolVar(&o.once, "once", false, "gather once, write to the outputs and exit")
	fs.StringVar(&o.inputFilter, "input-filter", "", "run only the inputs named, separator is ':'")
	fs.StringVar(&o.outputFilter, "output-filter", "", "run only the outputs named, separator is ':'")
	fs.StringVar(&o.storeFilter, "secretstore-filter", "", "use only the secret stores named, separator is ':'")
	fs.StringVar(&o.pidFile, "pidfile", "", "file to write the process ID to while the agent runs")
	fs.BoolVar(&o.debug, "debug", false, "turn on debug logging")
	fs.BoolVar(&o.quiet, "quiet", false, "log only errors")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.BoolVar(&o.sampleConfig, "sample-config", false, "print the sample configuration of the compiled-in plugins and exit")
	fs.Usage = func() {
		// Nothing is left to do if the usage cannot be printed.
		_, _ = io.WriteString(stderr, "Usage: telegraf-procblocking [flags]\n\n"+
			"Without --config or --config-directory the embedded default configuration runs.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := refuseUnsupported(args); err != nil {
		_, _ = fmt.Fprintf(stderr, "%v\n", err)
		return nil, err
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected argument %q", fs.Arg(0))
		if why, ok := unsupportedCommands[fs.Arg(0)]; ok {
			err = fmt.Errorf("upstream Telegraf's command %q is not supported by telegraf-procblocking: %s", fs.Arg(0), why)
		}
		_, _ = fmt.Fprintf(stderr, "%v\n", err)
		return nil, err
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		os.Exit(2)
	}
	switch {
	case o.version:
		fmt.Println(versionString())
		return
	case o.sampleConfig:
		if err := printSampleConfig(os.Stdout); err != nil {
			log.Printf("E! Printing the sample configuration: %v", err)
			os.Exit(1)
		}
		return
	}
	if err := run(o); err != nil {
		log.Printf("E! %v", err)
		os.Exit(1)
	}
}

func versionString() string {
	telegrafVersion := "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/influxdata/telegraf" {
				telegrafVersion = dep.Version
				if dep.Replace != nil && dep.Replace.Version != "" {
					telegrafVersion = dep.Replace.Version
				}
			}
		}
	}
	return fmt.Sprintf("telegraf-procblocking %s (Telegraf %s)", version, telegrafVersion)
}

// printSampleConfig prints the sample configuration of every compiled-in
// input, processor, aggregator and output, in name order.
func printSampleConfig(w io.Writer) error {
	var b strings.Builder
	section := func(title string, names []string, sample func(string) string) {
		fmt.Fprintf(&b, "###############################################################################\n")
		fmt.Fprintf(&b, "#                            %-48s #\n", title)
		fmt.Fprintf(&b, "###############################################################################\n\n")
		for _, name := range names {
			fmt.Fprintln(&b, strings.TrimRight(sample(name), "\n"))
			fmt.Fprintln(&b)
		}
	}
	section("INPUT PLUGINS", slices.Sorted(maps.Keys(inputs.Inputs)),
		func(n string) string { return inputs.Inputs[n]().SampleConfig() })
	section("PROCESSOR PLUGINS", slices.Sorted(maps.Keys(processors.Processors)),
		func(n string) string { return processors.Processors[n]().SampleConfig() })
	section("AGGREGATOR PLUGINS", slices.Sorted(maps.Keys(aggregators.Aggregators)),
		func(n string) string { return aggregators.Aggregators[n]().SampleConfig() })
	section("OUTPUT PLUGINS", slices.Sorted(maps.Keys(outputs.Outputs)),
		func(n string) string { return outputs.Outputs[n]().SampleConfig() })
	_, err := io.WriteString(w, b.String())
	return err
}

// testMode is a test run, as upstream has it: --test or --test-wait without
// --once. Nothing may be sent or persisted.
func (o *options) testMode() bool { return !o.once && (o.test || o.testWait != 0) }

// run loads the configuration and runs the agent until SIGINT or SIGTERM,
// starting over with a freshly loaded configuration on SIGHUP. The alert
// state survives a reload as it survives a restart: in alertstate's state
// file.
func run(o *options) error {
	sigs := notifySignals()
	defer sigs.stop()

	if o.pidFile != "" && !o.testMode() && !o.once {
		remove, err := writePIDFile(o.pidFile)
		if err != nil {
			return err
		}
		defer remove()
	}
	for {
		// A stop requested while the previous agent shut down for a reload
		// wins over the reload.
		if sig, ok := sigs.stopPending(); ok {
			log.Printf("I! Stopping on %v", sig)
			return nil
		}
		l, err := loadConfig(o)
		if err != nil {
			return err
		}
		c := l.config

		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		watched := make(chan struct{})
		reload := false
		go func() {
			defer close(watched)
			select {
			case sig := <-sigs.stopC:
				log.Printf("I! Stopping on %v: flushing outputs and saving state", sig)
			case <-sigs.reloadC:
				log.Printf("I! Reloading configuration on SIGHUP")
				reload = true
			case <-done:
				return
			}
			cancel()
		}()
		err = runAgent(ctx, o, l)
		l.release()
		close(done)
		<-watched
		cancel()
		if err != nil && !errors.Is(err, context.Canceled) {
			return annotate(err, c)
		}
		if !reload {
			return nil
		}
	}
}

func runAgent(ctx context.Context, o *options, l *loaded) error {
	c := l.config
	if !o.testMode() && len(c.Outputs) == 0 {
		return errors.New("no outputs found, probably invalid config file provided")
	}
	if len(c.Inputs) == 0 {
		return errors.New("no inputs found, probably invalid config file provided")
	}
	if c.Agent.Interval <= 0 {
		return fmt.Errorf("invalid 'interval' %s in [agent]: must be positive", time.Duration(c.Agent.Interval))
	}
	if c.Agent.FlushInterval <= 0 {
		return fmt.Errorf("invalid 'flush_interval' %s in [agent]: must be positive", time.Duration(c.Agent.FlushInterval))
	}

	logConfig := &logger.Config{
		Debug:                   c.Agent.Debug || o.debug,
		Quiet:                   c.Agent.Quiet || o.quiet,
		LogTarget:               c.Agent.LogTarget,
		LogFormat:               c.Agent.LogFormat,
		Logfile:                 c.Agent.Logfile,
		StructuredLogMessageKey: c.Agent.StructuredLogMessageKey,
		RotationInterval:        time.Duration(c.Agent.LogfileRotationInterval),
		RotationMaxSize:         int64(c.Agent.LogfileRotationMaxSize),
		RotationMaxArchives:     c.Agent.LogfileRotationMaxArchives,
		LogWithTimezone:         c.Agent.LogWithTimezone,
	}
	if err := logger.SetupLogging(logConfig); err != nil {
		return err
	}

	log.Printf("I! Starting %s", versionString())
	log.Printf("I! Running config: %s", l.source)
	for _, n := range l.notices {
		log.Print(n)
	}
	log.Printf("I! Loaded inputs: %s", strings.Join(c.InputNames(), " "))
	log.Printf("I! Loaded processors: %s", strings.Join(c.ProcessorNames(), " "))
	if o.testMode() {
		log.Printf("W! Outputs are not used in testing mode: nothing is sent and no state is written")
	} else {
		log.Printf("I! Loaded outputs: %s", strings.Join(c.OutputNames(), " "))
	}

	ag := agent.NewAgent(c)
	wait := time.Duration(o.testWait) * time.Second
	switch {
	case o.once:
		return ag.Once(ctx, wait)
	case o.testMode():
		return ag.Test(ctx, wait)
	default:
		return ag.Run(ctx)
	}
}
