package config

// topicKeys is the table of topic keys, accepted by CreateTopics and
// AlterConfigs. Each takes its default from the broker keys in Synonyms.
var topicKeys = markTopic([]Key{
	{Name: "cleanup.policy", Type: List, Synonyms: []string{"log.cleanup.policy"}, rule: oneOf("delete", "compact"),
		Doc: "delete removes old segments by retention.ms and retention.bytes; compact keeps the newest record of each key. Both may be listed."},
	{Name: "compression.type", Type: String, Synonyms: []string{"compression.type"}, rule: oneOf("producer"),
		Doc: "Only producer: batches are stored as the producer compressed them."},
	{Name: "flush.messages", Type: Long, Synonyms: []string{"log.flush.interval.messages"}, rule: atLeast(1),
		Doc: "Force a sync of a partition after this many records since the last one."},
	{Name: "flush.ms", Type: Long, Synonyms: flushMsSynonyms, rule: atLeast(0),
		Doc: "Force a sync of a partition when its oldest unsynced record is this old."},
	{Name: "index.interval.bytes", Type: Int, Synonyms: []string{"log.index.interval.bytes"}, rule: atLeast(0),
		Doc: "Bytes of batches between two entries of the offset and time indexes."},
	{Name: "max.message.bytes", Type: Int, Synonyms: []string{"message.max.bytes"}, rule: atLeast(0),
		Doc: "Largest record batch accepted for this topic."},
	{Name: "message.timestamp.after.max.ms", Type: Long, Synonyms: []string{"log.message.timestamp.after.max.ms"}, rule: atLeast(0),
		Doc: "With CreateTime, reject a batch stamped more than this far ahead of the broker's clock."},
	{Name: "message.timestamp.before.max.ms", Type: Long, Synonyms: []string{"log.message.timestamp.before.max.ms"}, rule: atLeast(0),
		Doc: "With CreateTime, reject a batch stamped more than this far behind the broker's clock."},
	{Name: "message.timestamp.type", Type: String, Synonyms: []string{"log.message.timestamp.type"}, rule: oneOf("CreateTime", "LogAppendTime"),
		Doc: "CreateTime keeps producer timestamps; LogAppendTime stamps batches with the broker's clock."},
	{Name: "min.insync.replicas", Type: Int, Synonyms: []string{"min.insync.replicas"}, rule: atLeast(1),
		Doc: "Smallest in-sync replica set with which an acks=all write to this topic is accepted."},
	{Name: "preallocate", Type: Boolean, Synonyms: []string{"log.preallocate"},
		Doc: "Allocate new segment files at full size."},
	{Name: "retention.bytes", Type: Long, Synonyms: []string{"log.retention.bytes"}, rule: atLeast(-1),
		Doc: "Largest size of a partition before its oldest segments are deleted; -1 for no limit."},
	{Name: "retention.ms", Type: Long, Synonyms: retentionSynonyms, rule: atLeast(-1),
		Doc: "How long closed segments are kept; -1 keeps them forever."},
	{Name: "segment.bytes", Type: Int, Synonyms: []string{"log.segment.bytes"}, rule: atLeast(1024),
		Doc: "Size at which the active segment is rolled."},
	{Name: "segment.ms", Type: Long, Synonyms: rollSynonyms, rule: atLeast(1),
		Doc: "Age at which the active segment is rolled even if not full."},
	{Name: "unclean.leader.election.enable", Type: Boolean, Synonyms: []string{"unclean.leader.election.enable"},
		Doc: "Let an out-of-sync replica become leader when no in-sync replica is alive, losing acknowledged records."},
})

func markTopic(keys []Key) []Key {
	for i := range keys {
		keys[i].Topic = true
	}
	return keys
}
