package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Type is the data type of a key. The values are Kafka's ConfigType codes,
// which DescribeConfigs v3 and later reports (kmsg.ConfigType).
type Type int8

// Key types, numbered as in Kafka's DescribeConfigs ConfigType.
const (
	Boolean  Type = 1
	String   Type = 2
	Int      Type = 3
	Short    Type = 4
	Long     Type = 5
	Double   Type = 6
	List     Type = 7
	Password Type = 9
)

// String returns the type name used in the documentation ("int", "list").
func (t Type) String() string {
	switch t {
	case Boolean:
		return "boolean"
	case String:
		return "string"
	case Int:
		return "int"
	case Short:
		return "short"
	case Long:
		return "long"
	case Double:
		return "double"
	case List:
		return "list"
	case Password:
		return "password"
	}
	return "unknown"
}

// Key defines one configuration key. The tables returned by BrokerKeys and
// TopicKeys are the single source of truth for names, types, defaults,
// validation and documentation.
type Key struct {
	// Name is the key as written in server.properties or a topic config.
	Name string
	// Type is the value type.
	Type Type
	// Default is the default value in string form. It is meaningless when
	// Null is set, and for topic keys, whose defaults come from Synonyms.
	Default string
	// Null reports that the key has no default ("null" in Kafka's terms);
	// Doc says what applies instead.
	Null bool
	// Doc explains the key to operators in a sentence or two.
	Doc string
	// Ours marks a key that spotstream adds; Kafka has no such key.
	Ours bool
	// KafkaDefault is Kafka's default when spotstream's differs, else "".
	KafkaDefault string
	// Synonyms lists the broker keys that decide the value when this key is
	// not set, highest precedence first. For a topic key these are the
	// broker keys that supply its default (retention.ms: log.retention.ms,
	// log.retention.minutes, log.retention.hours). For a broker key they are
	// its whole group of synonyms, itself included (log.roll.ms,
	// log.roll.hours), or nil.
	Synonyms []string
	// Topic marks a topic-level key.
	Topic bool

	rule   rule
	unitMs int64 // for time keys in minutes or hours: milliseconds per unit
	group  string
}

// Sensitive reports whether values of the key must not be shown.
func (k Key) Sensitive() bool { return k.Type == Password }

// Valid describes the values the key accepts, e.g. "at least 1024".
func (k Key) Valid() string { return k.rule.desc }

// rule is a validator with the description of what it accepts.
type rule struct {
	desc  string
	check func(v any) string // "" when v is acceptable, else the reason
}

func atLeast(min int64) rule {
	return rule{
		desc: fmt.Sprintf("at least %d", min),
		check: func(v any) string {
			if v.(int64) < min {
				return fmt.Sprintf("must be at least %d", min)
			}
			return ""
		},
	}
}

func between(min, max int64) rule {
	return rule{
		desc: fmt.Sprintf("%d to %d", min, max),
		check: func(v any) string {
			if n := v.(int64); n < min || n > max {
				return fmt.Sprintf("must be from %d to %d", min, max)
			}
			return ""
		},
	}
}

// minusOneOrAtLeast accepts -1 (a special value such as "unlimited" or "OS
// default") or anything from min up.
func minusOneOrAtLeast(min int64) rule {
	return rule{
		desc: fmt.Sprintf("-1, or at least %d", min),
		check: func(v any) string {
			if n := v.(int64); n != -1 && n < min {
				return fmt.Sprintf("must be -1 or at least %d", min)
			}
			return ""
		},
	}
}

// oneOf accepts the given strings (case-sensitive, as Kafka), or for a list
// key, lists of them without repetition.
func oneOf(values ...string) rule {
	shown := make([]string, len(values))
	for i, v := range values {
		shown[i] = v
		if v == "" {
			shown[i] = "(empty)"
		}
	}
	quoted := strings.Join(shown, ", ")
	return rule{
		desc: "one of " + quoted,
		check: func(v any) string {
			items, isList := v.([]string)
			if !isList {
				items = []string{v.(string)}
			}
			for i, s := range items {
				if !slices.Contains(values, s) {
					return fmt.Sprintf("%q is not one of %s", s, quoted)
				}
				if slices.Contains(items[:i], s) {
					return fmt.Sprintf("%q is listed twice", s)
				}
			}
			return ""
		},
	}
}

// describedAs is for keys whose structure is checked by NewBroker, not by a
// per-value rule; it only documents what they accept.
func describedAs(desc string) rule { return rule{desc: desc} }

// parse converts a raw value to the key's Go representation: bool, int64
// (Int, Short and Long), float64, string or []string. Surrounding whitespace
// is ignored, as Kafka does.
func (k Key) parse(raw string) (any, error) {
	s := strings.TrimSpace(raw)
	var v any
	switch k.Type {
	case Boolean:
		switch {
		case strings.EqualFold(s, "true"):
			v = true
		case strings.EqualFold(s, "false"):
			v = false
		default:
			return nil, invalid(k.Name, raw, "expected true or false")
		}
	case Int, Short, Long:
		bits := map[Type]int{Short: 16, Int: 32, Long: 64}[k.Type]
		n, err := strconv.ParseInt(s, 10, bits)
		if err != nil {
			what := "an integer"
			for suffix, unit := range map[string]string{".ms": "milliseconds", ".bytes": "bytes", ".minutes": "minutes", ".hours": "hours"} {
				if strings.HasSuffix(k.Name, suffix) {
					what = "an integer number of " + unit
				}
			}
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				what = fmt.Sprintf("an integer that fits in %d bits", bits)
			}
			return nil, invalid(k.Name, raw, "expected %s%s", what, k.allowed())
		}
		v = n
	case Double:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, invalid(k.Name, raw, "expected a number%s", k.allowed())
		}
		v = f
	case List:
		items := []string{}
		if s != "" {
			for _, item := range strings.Split(s, ",") {
				item = strings.TrimSpace(item)
				if item == "" {
					return nil, invalid(k.Name, raw, "empty item in comma-separated list")
				}
				items = append(items, item)
			}
		}
		v = items
	default: // String, Password
		v = s
	}
	if k.rule.check != nil {
		if reason := k.rule.check(v); reason != "" {
			return nil, invalid(k.Name, raw, "%s", reason)
		}
	}
	return v, nil
}

func (k Key) allowed() string {
	if k.rule.desc == "" {
		return ""
	}
	return " (allowed: " + k.rule.desc + ")"
}

// format renders a parsed value in the canonical string form that
// DescribeConfigs reports.
func format(v any) string {
	switch v := v.(type) {
	case bool:
		return strconv.FormatBool(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case []string:
		return strings.Join(v, ",")
	case string:
		return v
	}
	panic(fmt.Sprintf("config: cannot format %T", v))
}

// mustParseDefault parses a default from the table; a bad default is a bug.
func (k Key) mustParseDefault() any {
	v, err := k.parse(k.Default)
	if err != nil {
		panic(fmt.Sprintf("config: bad default in table: %v", err))
	}
	return v
}

var (
	brokerIndex = index(brokerKeys)
	topicIndex  = index(topicKeys)
)

func index(keys []Key) map[string]Key {
	m := make(map[string]Key, len(keys))
	for _, k := range keys {
		if _, dup := m[k.Name]; dup {
			panic("config: key defined twice: " + k.Name)
		}
		m[k.Name] = k
	}
	return m
}

// BrokerKeys returns the broker keys, in documentation order.
func BrokerKeys() []Key { return slices.Clone(brokerKeys) }

// TopicKeys returns the topic keys, in documentation order.
func TopicKeys() []Key { return slices.Clone(topicKeys) }

// LookupBroker returns the definition of a broker key.
func LookupBroker(name string) (Key, bool) {
	k, ok := brokerIndex[name]
	return k, ok
}

// LookupTopic returns the definition of a topic key.
func LookupTopic(name string) (Key, bool) {
	k, ok := topicIndex[name]
	return k, ok
}
