// Command telegraf-procblocking is Telegraf's agent with the procblocking
// input, the alertstate processor and the telegram output compiled in, plus
// the few upstream plugins its deployments use.
package main

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/influxdata/telegraf/agent"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/logger"
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
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("telegraf-procblocking", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&o.configs, "config", "configuration file to load (repeatable)")
	fs.Var(&o.configDirs, "config-directory", "directory of *.conf files to load (repeatable)")
	fs.BoolVar(&o.test, "test", false, "gather once through the processors, print line protocol on stdout and exit")
	fs.IntVar(&o.testWait, "test-wait", 0, "seconds to wait for service inputs in --test and --once mode")
	fs.BoolVar(&o.once, "once", false, "gather once, write to the outputs and exit")
	fs.BoolVar(&o.debug, "debug", false, "turn on debug logging")
	fs.BoolVar(&o.quiet, "quiet", false, "log only errors")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.BoolVar(&o.sampleConfig, "sample-config", false, "print the sample configuration of the compiled-in plugins and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: telegraf-procblocking [flags]\n\n"+
			"Without --config or --config-directory the embedded default configuration runs.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
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
		printSampleConfig(os.Stdout)
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
// input, processor and output, in name order.
func printSampleConfig(w io.Writer) {
	section := func(title string, names []string, sample func(string) string) {
		sort.Strings(names)
		fmt.Fprintf(w, "###############################################################################\n")
		fmt.Fprintf(w, "#                            %-48s #\n", title)
		fmt.Fprintf(w, "###############################################################################\n\n")
		for _, name := range names {
			fmt.Fprintln(w, strings.TrimRight(sample(name), "\n"))
			fmt.Fprintln(w)
		}
	}
	var names []string
	for name := range inputs.Inputs {
		names = append(names, name)
	}
	section("INPUT PLUGINS", names, func(n string) string { return inputs.Inputs[n]().SampleConfig() })
	names = nil
	for name := range processors.Processors {
		names = append(names, name)
	}
	section("PROCESSOR PLUGINS", names, func(n string) string { return processors.Processors[n]().SampleConfig() })
	names = nil
	for name := range outputs.Outputs {
		names = append(names, name)
	}
	section("OUTPUT PLUGINS", names, func(n string) string { return outputs.Outputs[n]().SampleConfig() })
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
func loadConfig(o *options) (*config.Config, string, error) {
	files, err := o.configFiles()
	if err != nil {
		return nil, "", err
	}
	c := config.NewConfig()
	c.Agent.Quiet = o.quiet
	if files == nil {
		if err := c.LoadConfigData(defaultConfig, defaultConfigName); err != nil {
			return nil, "", fmt.Errorf("loading %s failed: %w", defaultConfigName, err)
		}
		if err := c.LinkSecrets(); err != nil {
			return nil, "", err
		}
		return c, defaultConfigName + " (no --config or --config-directory given)", nil
	}
	if err := c.LoadAll(files...); err != nil {
		return nil, "", err
	}
	return c, strings.Join(files, ", "), nil
}

// run loads the configuration and runs the agent until SIGINT or SIGTERM,
// starting over with a freshly loaded configuration on SIGHUP.
func run(o *options) error {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)

	for {
		c, source, err := loadConfig(o)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithCancel(context.Background())
		reload := make(chan bool, 1)
		done := make(chan struct{})
		go func() {
			select {
			case sig := <-signals:
				if sig == syscall.SIGHUP {
					log.Printf("I! Reloading configuration on SIGHUP")
					reload <- true
				} else {
					log.Printf("I! Stopping on %v: flushing outputs and saving state", sig)
				}
				cancel()
			case <-done:
			}
		}()
		err = runAgent(ctx, o, c, source)
		close(done)
		cancel()
		if err != nil && !errors.Is(err, context.Canceled) {
			return annotate(err, c)
		}
		select {
		case <-reload:
			continue
		default:
			return nil
		}
	}
}

func runAgent(ctx context.Context, o *options, c *config.Config, source string) error {
	if !o.test && o.testWait == 0 && len(c.Outputs) == 0 {
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
	log.Printf("I! Running config: %s", source)
	log.Printf("I! Loaded inputs: %s", strings.Join(c.InputNames(), " "))
	log.Printf("I! Loaded processors: %s", strings.Join(c.ProcessorNames(), " "))
	if o.test && !o.once {
		log.Printf("W! Outputs are not used in testing mode!")
	} else {
		log.Printf("I! Loaded outputs: %s", strings.Join(c.OutputNames(), " "))
	}

	ag := agent.NewAgent(c)
	wait := time.Duration(o.testWait) * time.Second
	switch {
	case o.once:
		return ag.Once(ctx, wait)
	case o.test:
		return ag.Test(ctx, wait)
	default:
		return ag.Run(ctx)
	}
}

// pluginErrorRe finds the plugin in Telegraf's errors from Init and Connect.
var pluginErrorRe = regexp.MustCompile(`(?:could not initialize|connecting) (input|processor|output|aggregator) ([^\s:]+)`)

// annotate adds the file and line of the plugin whose Init or Connect failed:
// Telegraf names only the plugin, which is not enough with a config directory.
func annotate(err error, c *config.Config) error {
	m := pluginErrorRe.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	logName := m[2]
	var sources []string
	switch m[1] {
	case "input":
		for _, p := range c.Inputs {
			if p.LogName() == logName {
				sources = append(sources, p.Config.Source)
			}
		}
	case "processor":
		for _, p := range c.Processors {
			if p.LogName() == logName {
				sources = append(sources, p.Config.Source)
			}
		}
	case "output":
		for _, p := range c.Outputs {
			if p.LogName() == logName {
				sources = append(sources, p.Config.Source)
			}
		}
	}
	if len(sources) != 1 || sources[0] == "" {
		return err
	}
	name, _, _ := strings.Cut(logName, "::")
	if line := tableLine(sources[0], name); line > 0 {
		return fmt.Errorf("%s:%d: %w", sources[0], line, err)
	}
	return fmt.Errorf("%s: %w", sources[0], err)
}

// tableLine returns the line of the first [[name]] table in the file, or 0.
func tableLine(path, name string) int {
	var data io.Reader
	if path == defaultConfigName {
		data = strings.NewReader(string(defaultConfig))
	} else {
		f, err := os.Open(path)
		if err != nil {
			return 0
		}
		defer f.Close()
		data = f
	}
	want := "[[" + name + "]]"
	scanner := bufio.NewScanner(data)
	for n := 1; scanner.Scan(); n++ {
		if strings.TrimSpace(scanner.Text()) == want {
			return n
		}
	}
	return 0
}
