package main

// This file holds what the command groups (bench, group, cluster, broker,
// reassign) share: dispatch to a subcommand, and the usage errors that
// exit with status 2.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// subcommand runs one subcommand with its arguments.
type subcommand func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// usageError is a command line that cannot be run as given: a missing or
// unknown subcommand, a bad flag or argument (exit status 2).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// commandContext returns a context that ends on the first SIGINT or
// SIGTERM; after it, the default handling lets a second signal kill a
// command stuck finishing.
func commandContext() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	return ctx, stop
}

// runCommandGroup runs a command group from main.
func runCommandGroup(args []string, usage string, subs map[string]subcommand) error {
	ctx, stop := commandContext()
	defer stop()
	return dispatch(ctx, args, os.Stdout, os.Stderr, usage, subs)
}

// dispatch runs the subcommand args[0] of subs; help prints usage to
// stdout, a missing or unknown subcommand prints it to stderr and is a
// usage error.
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer, usage string, subs map[string]subcommand) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{errors.New("missing subcommand")}
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	run, ok := subs[sub]
	if !ok {
		fmt.Fprint(stderr, usage)
		return usageError{fmt.Errorf("unknown subcommand %q", sub)}
	}
	return run(ctx, rest, stdout, stderr)
}
