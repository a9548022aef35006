// Package quorum keeps the embedded etcd quorum on the brokers that
// should run it as the fleet changes under it: on spot capacity the
// brokers that host members are reclaimed and replaced like any others,
// and a static quorum would stop after two such losses.
//
// It has three parts:
//
//   - [Plan] is the policy, a pure function: given the members, the live
//     brokers and the time, the next membership change (one at a time).
//   - [Manager] runs on every broker and, while the broker is the
//     controller, carries out the plan with etcd's member API (learners
//     are added, started by their broker, then promoted).
//   - [Host] runs on every broker that can host a member: it starts the
//     member the manager asked it to run, and, when its member is removed,
//     stops it and clears its data so that the broker goes on as a client.
package quorum
