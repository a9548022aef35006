package config

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/configuration.md from the key tables")

const docPath = "../../docs/configuration.md"

// TestMarkdown keeps docs/configuration.md identical to Markdown(). Run
// go test ./internal/config -run TestMarkdown -update after changing a key.
func TestMarkdown(t *testing.T) {
	want := Markdown()
	if *update {
		if err := os.WriteFile(filepath.FromSlash(docPath), []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(filepath.FromSlash(docPath))
	if err != nil {
		t.Fatalf("%v (generate it with -update)", err)
	}
	if string(got) != want {
		t.Errorf("%s is out of date: run go test ./internal/config -run TestMarkdown -update", docPath)
	}
	for _, k := range append(BrokerKeys(), TopicKeys()...) {
		if !strings.Contains(want, "# `"+k.Name+"`\n") {
			t.Errorf("key %s is not documented", k.Name)
		}
	}
}

// TestKeyTables checks the tables themselves: defaults parse, docs exist,
// synonyms and groups refer to real things.
func TestKeyTables(t *testing.T) {
	for _, k := range brokerKeys {
		if k.Doc == "" || !strings.HasSuffix(k.Doc, ".") {
			t.Errorf("%s: doc %q should be a sentence", k.Name, k.Doc)
		}
		if !slices.Contains(groupOrder, k.group) {
			t.Errorf("%s: unknown group %q", k.Name, k.group)
		}
		if !k.Null {
			k.mustParseDefault() // panics on a bad default
		}
		if len(k.Synonyms) > 0 && !slices.Contains(k.Synonyms, k.Name) {
			t.Errorf("%s: synonym group %q does not contain the key", k.Name, k.Synonyms)
		}
		if k.Topic {
			t.Errorf("%s: broker key marked Topic", k.Name)
		}
	}
	if len(topicFields) != len(topicKeys) {
		t.Errorf("%d topic fields for %d topic keys", len(topicFields), len(topicKeys))
	}
	for _, k := range topicKeys {
		if _, ok := topicFields[k.Name]; !ok {
			t.Errorf("%s: no TopicConfig field", k.Name)
		}
		if !k.Topic || k.Doc == "" || len(k.Synonyms) == 0 {
			t.Errorf("topic key %s: %+v", k.Name, k)
		}
		hasDefault := false
		for _, s := range k.Synonyms {
			bk, ok := brokerIndex[s]
			if !ok {
				t.Errorf("%s: synonym %s is not a broker key", k.Name, s)
				continue
			}
			if bk.Type != k.Type && bk.unitMs == 0 {
				t.Errorf("%s: type %v, synonym %s type %v", k.Name, k.Type, s, bk.Type)
			}
			hasDefault = hasDefault || !bk.Null
		}
		if !hasDefault {
			t.Errorf("%s: no synonym has a default", k.Name)
		}
	}
	for _, ig := range ignoredKafkaKeys {
		if _, ok := brokerIndex[ig.key]; ok {
			t.Errorf("%s is both a key and ignored", ig.key)
		}
	}
	if got := BrokerKeys(); len(got) != len(brokerKeys) {
		t.Error("BrokerKeys")
	}
	if k, ok := LookupBroker("log.dirs"); !ok || k.Type != List {
		t.Error("LookupBroker")
	}
	if k, ok := LookupTopic("retention.ms"); !ok || !k.Topic || k.Valid() != "at least -1" {
		t.Error("LookupTopic")
	}
	for typ, name := range map[Type]string{Boolean: "boolean", String: "string", Int: "int", Short: "short",
		Long: "long", Double: "double", List: "list", Password: "password", 0: "unknown"} {
		if typ.String() != name {
			t.Errorf("Type(%d) = %s", typ, typ)
		}
	}
}

func TestHumanDefault(t *testing.T) {
	tests := []struct {
		name, def, want string
	}{
		{"log.retention.check.interval.ms", "300000", " (5 minutes)"},
		{"transactional.id.expiration.ms", "604800000", " (7 days)"},
		{"log.segment.bytes", "1073741824", " (1 GiB)"},
		{"message.max.bytes", "1048588", ""},
		{"log.retention.hours", "168", " (7 days)"},
		{"offsets.retention.minutes", "10080", " (7 days)"},
		{"log.flush.interval.messages", maxLong, " (unlimited)"},
		{"num.partitions", "1", ""},
		{"log.retention.bytes", "-1", ""},
	}
	for _, tt := range tests {
		if got := humanDefault(Key{Name: tt.name, Default: tt.def}); got != tt.want {
			t.Errorf("%s=%s: %q, want %q", tt.name, tt.def, got, tt.want)
		}
	}
}
