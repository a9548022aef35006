package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spotstream/spotstream/internal/broker"
	"github.com/spotstream/spotstream/internal/config"
)

// overrides collects repeated --override key=value flags.
type overrides []string

func (o *overrides) String() string     { return strings.Join(*o, ",") }
func (o *overrides) Set(v string) error { *o = append(*o, v); return nil }

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var over overrides
	fs.Var(&over, "override", "set a configuration key, as key=value (repeatable)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: spotstream serve [server.properties] [--override key=value ...]")
		fs.PrintDefaults()
	}
	// The properties file may come before or after the flags.
	var file string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 1 || (fs.NArg() == 1 && file != "") {
		return errors.New("at most one properties file")
	}
	if fs.NArg() == 1 {
		file = fs.Arg(0)
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	props := map[string]string{}
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		props, err = config.ReadProperties(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
	}
	ov, err := config.ParseOverrides(over)
	if err != nil {
		return err
	}
	for k, v := range ov {
		props[k] = v
	}
	cfg, warnings, err := config.NewBroker(props)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		logger.Warn(w)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		// A second signal while shutting down means: stop now.
		<-ctx.Done()
		stop()
		again := make(chan os.Signal, 1)
		signal.Notify(again, syscall.SIGTERM, os.Interrupt)
		<-again
		logger.Warn("second signal: exiting without a clean shutdown")
		os.Exit(1)
	}()
	// A broker that loses its coordinator session has stopped leading and
	// serving (another broker may own its partitions by now); it rejoins
	// as a new incarnation on the same data rather than exiting, so that
	// an etcd outage longer than the session does not take every broker
	// of the cluster down for good.
	for {
		err := broker.New(cfg, logger).Run(ctx)
		if !errors.Is(err, broker.ErrSessionLost) || ctx.Err() != nil {
			return err
		}
		logger.Warn("lost the coordinator session; rejoining the cluster", "retry.in", rejoinBackoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(rejoinBackoff):
		}
	}
}

// rejoinBackoff is the pause before a broker that lost its session
// rejoins: enough for a flapping coordinator to settle, short next to the
// session timeout.
const rejoinBackoff = time.Second
