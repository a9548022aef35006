package config

import (
	"fmt"
	"io"
	"maps"
	"os"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// ReadProperties parses a Java .properties file, as Kafka reads
// server.properties:
//
//   - lines whose first non-blank character is '#' or '!' are comments;
//   - a key ends at the first unescaped '=', ':' or blank; blanks around the
//     separator are skipped, and the value runs to the end of the line;
//   - a line ending in an odd number of backslashes continues on the next
//     line, whose leading blanks are dropped;
//   - \t \n \r \f and \uXXXX are escapes, and a backslash before any other
//     character stands for that character (\=, \:, \#, \\, "\ ").
//
// Unlike Java, which reads ISO 8859-1, the input is taken as UTF-8 and a
// leading byte order mark is ignored. Keys are trimmed, an empty key is an
// error, and a key given twice keeps its last value.
func ReadProperties(r io.Reader) (map[string]string, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("config: reading properties: %w", err)
	}
	text := strings.TrimPrefix(string(data), "\uFEFF")
	props := make(map[string]string)

	var logical strings.Builder
	continuing := false
	start := 0 // line number where the current logical line began
	flush := func() error {
		line := logical.String()
		logical.Reset()
		continuing = false
		if line == "" {
			return nil
		}
		key, value, err := splitProperty(line)
		if err != nil {
			return fmt.Errorf("config: properties line %d: %w", start, err)
		}
		props[key] = value
		return nil
	}

	for n, natural := range naturalLines(text) {
		lineNo := n + 1
		trimmed := strings.TrimLeft(natural, " \t\f")
		if !continuing {
			if trimmed == "" || trimmed[0] == '#' || trimmed[0] == '!' {
				continue
			}
			start = lineNo
		}
		backslashes := len(trimmed) - len(strings.TrimRight(trimmed, `\`))
		if backslashes%2 == 1 {
			logical.WriteString(trimmed[:len(trimmed)-1])
			continuing = true
			continue
		}
		logical.WriteString(trimmed)
		continuing = false
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if err := flush(); err != nil { // a continuation at the end of the input
		return nil, err
	}
	return props, nil
}

// naturalLines splits text at \n, \r\n and \r.
func naturalLines(text string) []string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	return strings.Split(text, "\n")
}

// splitProperty splits a logical line into its unescaped key and value.
func splitProperty(line string) (key, value string, err error) {
	end := len(line) // end of the key
	valueStart := len(line)
	hasSeparator := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == '\\' {
			i++ // the next byte is escaped
			continue
		}
		if c == '=' || c == ':' {
			end, valueStart, hasSeparator = i, i+1, true
			break
		}
		if c == ' ' || c == '\t' || c == '\f' {
			end, valueStart = i, i+1
			break
		}
	}
	rest := strings.TrimLeft(line[valueStart:], " \t\f")
	if !hasSeparator && rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	key, err = unescape(line[:end])
	if err != nil {
		return "", "", err
	}
	key = strings.TrimSpace(key)
	if key == "" {
		return "", "", fmt.Errorf("missing key before value %q", rest)
	}
	value, err = unescape(rest)
	if err != nil {
		return "", "", fmt.Errorf("key %s: %w", key, err)
	}
	return key, value, nil
}

// unescape resolves the backslash escapes of a .properties file.
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	var pendingHigh rune = -1 // a UTF-16 high surrogate waiting for its pair
	writeRune := func(r rune) {
		if pendingHigh >= 0 {
			if utf16.IsSurrogate(r) && r >= 0xDC00 {
				b.WriteRune(utf16.DecodeRune(pendingHigh, r))
				pendingHigh = -1
				return
			}
			b.WriteRune(utf8.RuneError)
			pendingHigh = -1
		}
		if r >= 0xD800 && r < 0xDC00 {
			pendingHigh = r
			return
		}
		b.WriteRune(r)
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r != '\\' {
			writeRune(r)
			continue
		}
		if i == len(s) {
			break // a lone trailing backslash stands for nothing
		}
		r, size = utf8.DecodeRuneInString(s[i:])
		i += size
		switch r {
		case 't':
			writeRune('\t')
		case 'n':
			writeRune('\n')
		case 'r':
			writeRune('\r')
		case 'f':
			writeRune('\f')
		case 'u':
			if len(s)-i < 4 {
				return "", fmt.Errorf(`malformed \uXXXX escape in %q`, s)
			}
			n, err := strconv.ParseUint(s[i:i+4], 16, 16)
			if err != nil {
				return "", fmt.Errorf(`malformed \uXXXX escape in %q`, s)
			}
			i += 4
			writeRune(rune(n))
		default:
			writeRune(r)
		}
	}
	if pendingHigh >= 0 {
		b.WriteRune(utf8.RuneError)
	}
	return b.String(), nil
}

// ParseOverrides parses --override arguments, each "key=value" (split at the
// first '='). The key is trimmed and must not be empty; the value may be
// empty. A key given twice keeps its last value.
func ParseOverrides(kv []string) (map[string]string, error) {
	props := make(map[string]string, len(kv))
	for _, arg := range kv {
		key, value, ok := strings.Cut(arg, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			return nil, fmt.Errorf("config: override %q: expected key=value", arg)
		}
		props[key] = value
	}
	return props, nil
}

// Load builds the broker configuration from a properties file (none when
// path is "") and --override arguments, which take precedence. It returns
// the same warnings and errors as NewBroker.
func Load(path string, overrides []string) (*Broker, []string, error) {
	props := make(map[string]string)
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, fmt.Errorf("config: %w", err)
		}
		fileProps, err := ReadProperties(f)
		f.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("%w (in %s)", err, path)
		}
		props = fileProps
	}
	over, err := ParseOverrides(overrides)
	if err != nil {
		return nil, nil, err
	}
	maps.Copy(props, over)
	return NewBroker(props)
}
