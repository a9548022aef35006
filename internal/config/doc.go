// Package config reads, validates and describes spotstream's configuration.
//
// Operators configure spotstream the way they configure Apache Kafka: a Java
// .properties file (server.properties) plus --override key=value arguments,
// with Kafka's key names, types, defaults and meanings, and a few keys of our
// own (broker.capacity, log.flush.on.ack, coordinator.*, metrics.listener).
//
// One table of key definitions (see BrokerKeys and TopicKeys) is the single
// source of truth. It drives parsing and validation (NewBroker,
// ValidateTopicConfigs), the typed views the broker uses (Broker,
// TopicConfig), the DescribeConfigs answers (Broker.Describe,
// Broker.DescribeTopic) and the operator documentation (Markdown, committed
// as docs/configuration.md and checked by a test).
//
// Typical use by the command:
//
//	b, warnings, err := config.Load(path, overrides)
//	for _, w := range warnings {
//		log.Print(w)
//	}
//	if err != nil {
//		fmt.Fprintln(os.Stderr, err)
//		os.Exit(2)
//	}
//
// Precedence, highest first: --override arguments, the properties file,
// then the defaults in the table. For a topic: the topic's own configs, then
// the broker keys that supply topic defaults (log.segment.bytes for
// segment.bytes, and so on), then the defaults of those broker keys.
//
// Every error wraps ErrInvalidConfig, and unknown topic keys also wrap
// ErrUnknownKey, so the Kafka API layer can map them to INVALID_CONFIG.
// Error messages start with "config: " and name the key, the value and what
// is allowed. Several problems in one configuration are reported together
// (errors.Join).
package config
