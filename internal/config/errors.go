package config

import (
	"errors"
	"fmt"
)

// ErrInvalidConfig is wrapped by every configuration error: a value that
// does not parse or is out of range, a missing or contradictory setting, or
// an unknown topic key. The Kafka API layer maps it to INVALID_CONFIG.
var ErrInvalidConfig = errors.New("config: invalid configuration")

// ErrUnknownKey is wrapped, in addition to ErrInvalidConfig, by the error for
// a topic key that spotstream does not know. (Unknown broker keys are only
// warnings.)
var ErrUnknownKey = errors.New("config: unknown key")

// Error describes one invalid setting. Use errors.As to reach it through the
// errors.Join that NewBroker and the topic functions return.
type Error struct {
	// Key is the configuration key at fault.
	Key string
	// Value is the value as given (for derived problems, the key's value).
	Value string
	// Reason says what is wrong and what is allowed.
	Reason string

	unknown bool
}

// Error implements error.
func (e *Error) Error() string {
	if e.unknown {
		return fmt.Sprintf("config: unknown key %q: %s", e.Key, e.Reason)
	}
	if e.Value == "" { // unset or empty: there is no value to show
		return fmt.Sprintf("config: %s: %s", e.Key, e.Reason)
	}
	return fmt.Sprintf("config: invalid value %q for %s: %s", e.Value, e.Key, e.Reason)
}

// Unwrap lets errors.Is find ErrInvalidConfig, and ErrUnknownKey for an
// unknown key.
func (e *Error) Unwrap() []error {
	if e.unknown {
		return []error{ErrInvalidConfig, ErrUnknownKey}
	}
	return []error{ErrInvalidConfig}
}

func invalid(key, value, format string, args ...any) *Error {
	return &Error{Key: key, Value: value, Reason: fmt.Sprintf(format, args...)}
}

func unknownKey(key, reason string) *Error {
	return &Error{Key: key, Reason: reason, unknown: true}
}
