package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Markdown returns the operator documentation of every key, generated from
// the key tables. docs/configuration.md holds its output; a test keeps the
// two identical (go test ./internal/config -update rewrites the file).
func Markdown() string {
	var b strings.Builder
	b.WriteString(intro)

	suppliedBy := map[string][]string{} // broker key -> topic keys it supplies
	for _, tk := range topicKeys {
		for _, s := range tk.Synonyms {
			suppliedBy[s] = append(suppliedBy[s], tk.Name)
		}
	}

	b.WriteString("## Broker keys\n\n")
	for _, g := range groupOrder {
		fmt.Fprintf(&b, "### %s\n\n", g)
		for _, k := range brokerKeys {
			if k.group != g {
				continue
			}
			writeKey(&b, "####", k)
			var notes []string
			if others := without(k.Synonyms, k.Name); len(others) > 0 {
				notes = append(notes, "Synonyms, highest precedence first: "+codeList(k.Synonyms)+".")
			}
			if ts := suppliedBy[k.Name]; len(ts) > 0 {
				notes = append(notes, "Default for the topic key "+codeList(ts)+".")
			}
			if k.Ours {
				notes = append(notes, "spotstream key; Kafka has none.")
			}
			if IsDynamic(k.Name) {
				notes = append(notes, "Dynamic: can be changed at runtime, cluster-wide or per broker, with "+
					"IncrementalAlterConfigs or AlterConfigs (`kafka-configs.sh --entity-type brokers --alter`).")
			}
			for _, n := range notes {
				fmt.Fprintf(&b, "- %s\n", n)
			}
			b.WriteString("\n")
		}
	}

	b.WriteString(topicIntro)
	for _, k := range topicKeys {
		writeKey(&b, "###", k)
		b.WriteString("\n")
	}
	return b.String()
}

func writeKey(b *strings.Builder, heading string, k Key) {
	fmt.Fprintf(b, "%s `%s`\n\n%s\n\n", heading, k.Name, k.Doc)
	fmt.Fprintf(b, "- Type: %s\n", k.Type)
	switch {
	case k.Topic:
		fmt.Fprintf(b, "- Default: the broker's %s\n", strings.ReplaceAll(codeList(k.Synonyms), ", ", " or "))
	case k.Null:
		b.WriteString("- Default: none\n")
	case k.Default == "":
		b.WriteString("- Default: empty\n")
	default:
		fmt.Fprintf(b, "- Default: `%s`%s\n", k.Default, humanDefault(k))
	}
	if k.KafkaDefault != "" {
		fmt.Fprintf(b, "- Kafka's default: `%s`\n", k.KafkaDefault)
	}
	if d := k.Valid(); d != "" {
		fmt.Fprintf(b, "- Valid values: %s\n", d)
	}
}

type unit struct {
	size int64
	name string
}

var (
	msUnits      = []unit{{86400000, "day"}, {3600000, "hour"}, {60000, "minute"}, {1000, "second"}}
	byteUnits    = []unit{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}}
	minuteUnits  = []unit{{1440, "day"}, {60, "hour"}}
	hourUnits    = []unit{{24, "day"}}
	unitBySuffix = map[string][]unit{".ms": msUnits, ".bytes": byteUnits, ".minutes": minuteUnits, ".hours": hourUnits}
)

// humanDefault explains large numeric defaults: " (7 days)", " (1 GiB)".
func humanDefault(k Key) string {
	n, err := strconv.ParseInt(k.Default, 10, 64)
	if err != nil || n <= 0 {
		return ""
	}
	if k.Default == maxLong || k.Default == maxInt {
		return " (unlimited)"
	}
	var units []unit
	for suffix, us := range unitBySuffix {
		if strings.HasSuffix(k.Name, suffix) {
			units = us
		}
	}
	for _, u := range units {
		if n >= u.size && n%u.size == 0 {
			q, name := n/u.size, u.name
			if q != 1 && !strings.HasSuffix(name, "B") {
				name += "s"
			}
			return fmt.Sprintf(" (%d %s)", q, name)
		}
	}
	return ""
}

func without(list []string, s string) []string {
	var out []string
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

func codeList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = "`" + n + "`"
	}
	return strings.Join(quoted, ", ")
}

const intro = "# Configuration\n\n" +
	"<!-- Generated from internal/config by config.Markdown(); do not edit by hand.\n" +
	"     Regenerate with: go test ./internal/config -run TestMarkdown -update -->\n\n" +
	`spotstream is configured like Apache Kafka: the same file format, the same
key names, types, defaults and meanings, plus a few keys of its own, marked
below as "spotstream key". A Kafka ` + "`server.properties`" + ` usually works as it is.

## Running

    spotstream serve [server.properties] [--override key=value ...]

With no file and no overrides, spotstream is a single broker listening on
127.0.0.1:9092, keeping its data in ` + "`./spotstream-data`" + ` (relative to the
working directory) and running its own embedded etcd member for coordination.

## The properties file

The file uses Java's .properties format, as Kafka does:

- One ` + "`key=value`" + ` per line. ` + "`key: value`" + ` and ` + "`key value`" + ` work too; blanks
  around the separator are ignored.
- Lines starting with ` + "`#`" + ` or ` + "`!`" + ` are comments.
- A line ending in a backslash continues on the next line.
- Backslash escapes: ` + "`\\t`, `\\n`, `\\uXXXX`" + `, and ` + "`\\=`, `\\:`, `\\\\`" + ` for the characters
  themselves. The file is read as UTF-8.
- Lists are comma-separated: ` + "`log.dirs=/data1,/data2`" + `.
- Booleans are ` + "`true`" + ` or ` + "`false`" + `. Numbers are plain integers; times are in the
  unit the key name says (` + "`.ms`, `.minutes`, `.hours`" + `).

## Precedence

Highest first:

1. ` + "`--override key=value`" + ` arguments, in order (a later one wins).
2. The properties file.
3. The default listed below.

Some keys have synonyms, also taken from Kafka: ` + "`log.retention.ms`" + ` wins over
` + "`log.retention.minutes`" + `, which wins over ` + "`log.retention.hours`" + `;
` + "`log.roll.ms`" + ` over ` + "`log.roll.hours`" + `; ` + "`node.id`" + ` is another name for ` + "`broker.id`" + `.

A topic takes each setting from its own topic config if it has one, else from
the broker key named as its default (` + "`retention.ms`" + ` from ` + "`log.retention.ms`" + ` and its
synonyms, ` + "`segment.bytes`" + ` from ` + "`log.segment.bytes`" + `, and so on).

## Mistakes

An unknown key is reported as a warning at startup and ignored, with a
suggestion when it looks like a typo. Kafka keys that spotstream does not
need (` + "`zookeeper.connect`, `num.io.threads`" + `, ...) are ignored with a warning
that says why. An invalid value stops the broker with an error that names
the key, the value and what is allowed. A topic created or altered with an
unknown or invalid config is refused with INVALID_CONFIG.

## Durability

Kafka acknowledges a write once it is in memory on the leader (` + "`acks=1`" + `) or
on every in-sync replica (` + "`acks=all`" + `), and relies on replication to keep it:
data reaches disk when the operating system writes it back, or when
` + "`log.flush.interval.messages`" + ` or ` + "`log.flush.interval.ms`" + ` force a sync. On spot
capacity, machines are reclaimed together (a zone, an instance pool), so every
replica of a partition can disappear at once.

spotstream therefore defaults to ` + "`log.flush.on.ack=true`" + `: a produce request with
` + "`acks=1`" + ` or ` + "`acks=all`" + ` is answered only after its batches are on disk
(` + "`fdatasync`" + `), on the leader and, for ` + "`acks=all`" + `, on the followers, which sync
what they fetched before reporting it to the leader. Syncs are group-committed:
one ` + "`fdatasync`" + ` per log directory covers every partition and batch written since
the previous one, so this costs latency rather than throughput. ` + "`acks=0`" + `
requests are never waited for. With ` + "`log.flush.on.ack=false`" + `, spotstream behaves
like Kafka and the ` + "`log.flush.interval.*`" + ` keys (topic: ` + "`flush.messages`, `flush.ms`" + `)
are the only forced syncs.

` + "`log.preallocate`" + ` is also on by default, unlike Kafka: a file allocated at its
full size syncs faster than a growing one, because ` + "`fdatasync`" + ` then has no
file-size change to write (1.5 to 2 times faster on our test machines).

## Two brokers on one machine

Two independent single-broker clusters need only their own port and data
directory; each runs its own etcd member on a unix socket inside its data
directory, so nothing else can collide:

    spotstream serve --override listeners=PLAINTEXT://127.0.0.1:9092 --override log.dirs=/tmp/a
    spotstream serve --override listeners=PLAINTEXT://127.0.0.1:9093 --override log.dirs=/tmp/b

For two brokers in one cluster, let the first serve etcd on a TCP port and
point the second at it:

    spotstream serve --override listeners=PLAINTEXT://127.0.0.1:9092 --override log.dirs=/tmp/a \
        --override coordinator.listen.client.urls=http://127.0.0.1:2379
    spotstream serve --override listeners=PLAINTEXT://127.0.0.1:9093 --override log.dirs=/tmp/b \
        --override coordinator.endpoints=http://127.0.0.1:2379

A local cluster of four brokers whose first three each embed a member of one
etcd quorum (the layout without an external etcd: losing any one of the three
leaves a quorum), and a fourth that is only a client of it:

    IC=m0=http://127.0.0.1:2380,m1=http://127.0.0.1:2480,m2=http://127.0.0.1:2580
    for i in 0 1 2; do
      spotstream serve --override broker.id=$i --override listeners=PLAINTEXT://127.0.0.1:909$((i+2)) \
          --override log.dirs=/tmp/b$i --override coordinator.name=m$i \
          --override coordinator.initial.cluster=$IC \
          --override coordinator.listen.client.urls=http://127.0.0.1:2${i}79 &
    done
    spotstream serve --override listeners=PLAINTEXT://127.0.0.1:9095 --override log.dirs=/tmp/b3 \
        --override coordinator.endpoints=http://127.0.0.1:2079,http://127.0.0.1:2179,http://127.0.0.1:2279 &
    spotstream cluster status --bootstrap-server 127.0.0.1:9092

Start the four in any order: the members wait for one another to form a
quorum and the fourth waits for that quorum, each logging that it waits. The
members have ids 0 to 2; the fourth, without ` + "`broker.id`" + `, claims an id above
` + "`reserved.broker.max.id`" + ` (1000), so it never takes the id of a member that
has not started yet. A broker without ` + "`broker.id`" + ` claims the id last held by
a dead broker of its ` + "`broker.rack`" + `, else a new one (1001, 1002, ...), and
keeps it in ` + "`meta.properties`" + `. A broker whose ` + "`broker.id`" + ` a live broker
already holds on other log directories exits at once, naming that broker.

A fifth broker that can host a member when the quorum needs one (a
standby): it names the cluster with ` + "`coordinator.endpoints`" + ` and gives its own
peer and client URLs. When a member's broker has been gone for
` + "`coordinator.quorum.replace.grace.ms`" + ` (a minute), the controller removes
that member and adds one on a standby (on-demand capacity and a free zone
first); it also moves members off spot brokers when an on-demand standby
exists. A member broker that comes back on an empty disk with its original
flags joins as a standby too.

    spotstream serve --override listeners=PLAINTEXT://127.0.0.1:9096 --override log.dirs=/tmp/b4 \
        --override coordinator.endpoints=http://127.0.0.1:2079,http://127.0.0.1:2179,http://127.0.0.1:2279 \
        --override coordinator.listen.peer.urls=http://127.0.0.1:2680 \
        --override coordinator.listen.client.urls=http://127.0.0.1:2679 &

In production, run etcd on three on-demand machines, one per zone, and set
` + "`coordinator.endpoints`" + ` on every broker; or embed a member in three brokers (one
per zone) as above, with ` + "`coordinator.listen.peer.urls`" + ` and client URLs on
addresses the other machines reach, and make the other brokers standbys, so
that the quorum follows the fleet as instances are reclaimed and replaced.
Several clusters can share one etcd if each has its own
` + "`coordinator.namespace`" + `.

`

const topicIntro = `## Topic keys

Topic keys are set per topic with CreateTopics or AlterConfigs (for example
` + "`kafka-topics.sh --config`" + ` or ` + "`kafka-configs.sh`" + `). A topic key that is not set takes
the value of the broker key named as its default.

`
