package config

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestReadProperties(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
		err  string // substring of the error; "" for success
	}{
		{name: "empty", in: "", want: map[string]string{}},
		{name: "equals", in: "a=1\nb = 2\n", want: map[string]string{"a": "1", "b": "2"}},
		{name: "colon", in: "a:1\nb : 2", want: map[string]string{"a": "1", "b": "2"}},
		{name: "whitespace separator", in: "a 1\nb\t\t2\nc \f 3", want: map[string]string{"a": "1", "b": "2", "c": "3"}},
		{name: "whitespace then equals", in: "a   =   1", want: map[string]string{"a": "1"}},
		{name: "second separator is value", in: "a==1\nb=:2\nc :=3", want: map[string]string{"a": "=1", "b": ":2", "c": "=3"}},
		{name: "key only", in: "a\nb=\nc:", want: map[string]string{"a": "", "b": "", "c": ""}},
		{name: "comments", in: "# x=1\n! y=2\n   # indented\nz=3 # not a comment", want: map[string]string{"z": "3 # not a comment"}},
		{name: "blank lines", in: "\n\n   \n\t\na=1\n\n", want: map[string]string{"a": "1"}},
		{name: "leading whitespace", in: "   a=1\n\tb=2", want: map[string]string{"a": "1", "b": "2"}},
		{name: "trailing whitespace kept in value", in: "a=1  \n", want: map[string]string{"a": "1  "}},
		{name: "crlf and cr", in: "a=1\r\nb=2\rc=3", want: map[string]string{"a": "1", "b": "2", "c": "3"}},
		{name: "continuation", in: "a=1,\\\n    2,\\\n    3\nb=4", want: map[string]string{"a": "1,2,3", "b": "4"}},
		{name: "continuation of key", in: "lo\\\n  ng=1", want: map[string]string{"long": "1"}},
		{name: "continuation keeps comment char", in: "a=1\\\n# 2", want: map[string]string{"a": "1# 2"}},
		{name: "continuation at end of input", in: "a=1\\", want: map[string]string{"a": "1"}},
		{name: "continuation into blank line", in: "a=1\\\n   \nb=2", want: map[string]string{"a": "1", "b": "2"}},
		{name: "comment ending in backslash does not continue", in: "# c \\\na=1", want: map[string]string{"a": "1"}},
		{name: "even backslashes do not continue", in: "a=x\\\\\nb=2", want: map[string]string{"a": `x\`, "b": "2"}},
		{name: "lone backslash line", in: "\\\na=1", want: map[string]string{"a": "1"}},
		{name: "escapes", in: `a=x\ty\nz\r\f`, want: map[string]string{"a": "x\ty\nz\r\f"}},
		{name: "escaped separators in key", in: `a\=b\:c\ d=1`, want: map[string]string{"a=b:c d": "1"}},
		{name: "escaped hash starts key", in: `\#a=1`, want: map[string]string{"#a": "1"}},
		{name: "other escapes stand for themselves", in: `a=\q\\\"`, want: map[string]string{"a": `q\"`}},
		{name: "unicode escape", in: `a=\u00e9\u0041`, want: map[string]string{"a": "éA"}},
		{name: "surrogate pair", in: `a=\uD83D\uDE00`, want: map[string]string{"a": "😀"}},
		{name: "lone surrogate", in: `a=\uD83Dx`, want: map[string]string{"a": "\uFFFDx"}},
		{name: "utf8 input", in: "broker.rack=zürich-1", want: map[string]string{"broker.rack": "zürich-1"}},
		{name: "bom", in: "\uFEFFa=1", want: map[string]string{"a": "1"}},
		{name: "last duplicate wins", in: "a=1\na=2", want: map[string]string{"a": "2"}},
		{name: "key trimmed", in: `\ a\ =1`, want: map[string]string{"a": "1"}},
		{name: "value with equals", in: "listeners=PLAINTEXT://:9092", want: map[string]string{"listeners": "PLAINTEXT://:9092"}},
		{name: "bad unicode escape", in: "a=1\nb=\\u12G4", err: "line 2"},
		{name: "short unicode escape", in: `a=\u12`, err: `malformed \uXXXX`},
		{name: "missing key", in: "a=1\n=2", err: "line 2: missing key"},
		{name: "missing key after colon", in: ":2", err: "missing key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadProperties(strings.NewReader(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "config: ") {
					t.Fatalf("err = %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestReadPropertiesReadError(t *testing.T) {
	_, err := ReadProperties(failingReader{})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseOverrides(t *testing.T) {
	got, err := ParseOverrides([]string{"a=1", " b =x=y", "c=", "a=3"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "3", "b": "x=y", "c": ""}
	if !maps.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, bad := range []string{"novalue", "=1", " =1", ""} {
		if _, err := ParseOverrides([]string{bad}); err == nil || !strings.HasPrefix(err.Error(), "config: ") {
			t.Errorf("ParseOverrides(%q) err = %v, want an error", bad, err)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "server.properties")
	file := "broker.id=3\nnum.partitions=4\nlog.dirs=" + filepath.Join(dir, "data") + "\nfoo.bar=1\n"
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	b, warnings, err := Load(path, []string{"num.partitions=8"})
	if err != nil {
		t.Fatal(err)
	}
	if b.BrokerID != 3 || b.NumPartitions != 8 {
		t.Errorf("ID %d, NumPartitions %d; want 3 and 8 (override wins)", b.BrokerID, b.NumPartitions)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "foo.bar") {
		t.Errorf("warnings = %q", warnings)
	}

	if _, _, err := Load(filepath.Join(dir, "missing.properties"), nil); err == nil || !strings.HasPrefix(err.Error(), "config: ") {
		t.Errorf("missing file: err = %v", err)
	}
	if _, _, err := Load(path, []string{"oops"}); err == nil {
		t.Error("bad override: no error")
	}
	if err := os.WriteFile(path, []byte(`a=\u00`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(path, nil); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("bad file: err = %v, want it to name the file", err)
	}
}

// escapeProperty writes s so that ReadProperties reads it back unchanged.
func escapeProperty(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\', '=', ':', '#', '!', ' ':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\f':
			b.WriteString(`\f`)
		case '\uFEFF': // a byte order mark at the start of the file is dropped
			b.WriteString(`\uFEFF`)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// FuzzReadProperties checks that ReadProperties never panics, that keys are
// never empty or padded, and that what it reads survives a write and read
// round trip.
func FuzzReadProperties(f *testing.F) {
	for _, seed := range []string{
		"a=1\nb:2\nc 3", "# c\n! c\n", "a=1\\\n  2", `a=\u0041\t\n`, "\uFEFFx=y",
		`a\=b=c`, "a=1\r\nb=2\r", "\\", "=", `\u`, "a=\\\\\n", "k\\\n\\\n=v",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		props, err := ReadProperties(strings.NewReader(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		var file strings.Builder
		for k, v := range props {
			if k == "" || k != strings.TrimSpace(k) {
				t.Fatalf("bad key %q", k)
			}
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				continue // invalid UTF-8 is kept as bytes; no round trip
			}
			file.WriteString(escapeProperty(k) + "=" + escapeProperty(v) + "\n")
		}
		again, err := ReadProperties(strings.NewReader(file.String()))
		if err != nil {
			t.Fatalf("re-reading %q: %v", file.String(), err)
		}
		for k, v := range again {
			if props[k] != v {
				t.Fatalf("round trip of %q: got %q, want %q", k, v, props[k])
			}
		}
	})
}
