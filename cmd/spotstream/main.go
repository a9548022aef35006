// Command spotstream runs a spotstream broker and its tools.
//
//	spotstream serve [server.properties] [--override key=value ...]
//	spotstream bench produce|consume [flags]
//	spotstream group list|describe|reset-offsets|delete [arguments]
//	spotstream cluster status [flags]
//	spotstream broker drain|undrain ID [flags]
//	spotstream reassign plan|apply|status|cancel [arguments]
package main

import (
	"errors"
	"fmt"
	"os"
)

const usage = `usage: spotstream <command> [arguments]

commands:
  serve    run a broker: spotstream serve [server.properties] [--override key=value ...]
  bench    measure produce or consume throughput and latency against any Kafka cluster
  group    list, describe, reset the offsets of, or delete consumer groups of any Kafka cluster
  cluster  status: brokers, controller, offline and under-replicated partitions
  broker   drain or undrain a broker while it keeps running
  reassign plan, apply, follow or cancel replica moves (kafka-reassign-partitions JSON)

Run 'spotstream <command> -h' for a command's flags. Exit status: 0 on
success, 1 on failure, 2 on bad usage (and 3 from "reassign status" while
moves are running).
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "serve":
		err = serve(args)
	case "bench":
		err = bench(args)
	case "group":
		err = runCommandGroup(args, groupUsage, groupSubcommands)
	case "cluster":
		err = runCommandGroup(args, clusterUsage, clusterSubcommands)
	case "broker":
		err = runCommandGroup(args, brokerUsage, brokerSubcommands)
	case "reassign":
		err = runCommandGroup(args, reassignUsage, reassignSubcommands)
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "spotstream: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "spotstream %s: %v\n", os.Args[1], err)
		if errors.As(err, new(usageError)) {
			os.Exit(2)
		}
		if errors.Is(err, errStillMoving) {
			os.Exit(3)
		}
		os.Exit(1)
	}
}
