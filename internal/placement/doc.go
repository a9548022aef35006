// Package placement decides where partition replicas go: for new topics and
// new partitions (Assign), for repairs of existing assignments after brokers
// died, started draining or joined (Repair, Violations), and for the
// temporary replica that stands in for a draining broker (AddReplica). It is
// pure: no I/O, no clock, no global random source. The same inputs and seed
// give the same answer; the seed only breaks ties, so that topics created
// one after another do not all lead on the same brokers.
//
// # Failure domains
//
// Spot capacity is reclaimed in correlated waves: a zone, or an instance
// pool across zones, can go at once, with two minutes' notice at best. A
// broker therefore sits in two failure domains: its zone (broker.rack, ""
// when unknown: all such brokers form one zone named "") and its capacity
// (broker.capacity: "on-demand", or "spot"; anything else, including "",
// is treated as spot). Draining brokers (leaving on an interruption notice
// or SIGTERM) keep the replicas they have but receive no new replica, are
// never made preferred leader, and count for nothing in rule 1. The other
// brokers are eligible.
//
// # Rules
//
// In strict priority order; a lower rule never breaks a higher one.
//
//  1. Capacity. A partition has at least one replica on an eligible
//     on-demand broker whenever the cluster has one, so that a spot reclaim
//     across every zone still leaves a copy.
//  2. Zones. A partition's replicas spread over zones as far as the eligible
//     brokers allow: with replication factor r and Z zones holding eligible
//     brokers, they span at least min(r, Z) zones, and no zone holds more
//     than m of them, where m is the smallest bound the zones' broker
//     counts allow (the smallest m with sum over zones of min(m, eligible
//     brokers in the zone) >= r). That is ceil(r/Z) whenever every zone has
//     enough brokers: durability before balance, so a zone with a single
//     broker gets that broker into every partition at r >= Z. Replicas on
//     draining brokers count in their zone.
//  3. Replica balance. Replica counts per broker, over every partition
//     given (existing ones included), are balanced among eligible brokers:
//     no replica can move from a broker holding at least two more than
//     another to that other broker without breaking rule 1 or 2. Brokers
//     alike in zone and capacity therefore differ by at most one (over the
//     partitions Assign places, or all partitions Repair can fix). This is
//     a local optimum: balance that only two simultaneous moves could
//     improve is not sought. Replicas on draining brokers stay put.
//  4. Leader balance. Preferred leaders (the first replica of each list) are
//     balanced: no chain of preferred-leader reorderings can move one
//     leadership from a broker leading at least two more partitions than
//     another to that other. Among equally loaded candidates, on-demand
//     brokers lead first: they are not reclaimed.
//
// Rules 1 and 2 can always be met together when there are at least r
// eligible brokers (pick the zones first, one of them with an on-demand
// broker), so Assign always meets them.
//
// # Tolerance
//
// Rules 3 and 4 are met when no single step improves the spread by two:
// Repair moves a replica from broker x to broker y only if x holds at least
// two more replicas than y, and reorders leaders only along a chain from a
// broker leading at least two more partitions than the end of the chain.
// Each step lowers the sum of squared counts, so repairs terminate, and a
// cluster balanced within one replica (and one leadership) per broker, as
// far as rules 1 and 2 allow, yields no moves: running Repair on its own
// result yields none.
//
// # Repair
//
// Repair works in phases. First, replicas on brokers that are not given
// (dead past their grace period) and partitions that break rule 1 or 2 are
// fixed, each with the fewest replica changes that meet both rules: one
// per problem, a dead replica replaced in its slot, a partition without an
// on-demand replica swapping one replica for an on-demand one. Among
// equally small fixes it prefers dropping replicas on draining brokers,
// then keeping the preferred leader, then the least loaded brokers. Then
// single replicas move off overloaded brokers (rule 3), then preferred
// leaders are reordered (rule 4), which moves no data and is not limited.
// Violations reports the same problems without fixing them; AddReplica
// picks a temporary replica for a draining broker under the same rules.
//
// # Performance
//
// Loads are counted once and kept up to date; each step looks at one
// partition's replicas and the brokers (by zone), never at pairs of
// partitions. Assigning 10,000 partitions at replication factor 3 on 12
// brokers, or repairing 30,000 replicas after a broker died, takes 10-40 ms
// on the 2-core development machine (BenchmarkAssign, BenchmarkRepair).
package placement
