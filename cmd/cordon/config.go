package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// maxConfigFile bounds a config file: it holds a few dozen settings.
const maxConfigFile = 1 << 20

// configHelp is the paragraph serve's and gate's help give the config file.
const configHelp = `Every flag may also come from the environment, as CORDON_ and its name in
capitals with - as _ (CORDON_ADDR, CORDON_TRUSTED_PROXIES), or from a YAML
config file (--config FILE, or CORDON_CONFIG) whose keys are the flag names
(addr: 127.0.0.1:8080; a list may be written as a YAML sequence). Precedence:
flags > environment > config file > defaults. A key that is not a flag is an
error naming it.`

// envName is the environment variable of flag name.
func envName(name string) string {
	return "CORDON_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// settle gives the flags the command line left unset their value from
// the environment, else from the config file (--config, else
// CORDON_CONFIG). Flags set on the line win; defaults stay last.
func settle(fs *pflag.FlagSet, getenv func(string) string) error {
	var envErr error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || envErr != nil || f.Name == "help" || pflagGlobal(f.Name) {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = usageError("%s=%q: %v", envName(f.Name), v, err)
			}
		}
	})
	if envErr != nil {
		return envErr
	}
	file, _ := fs.GetString("config")
	if file == "" {
		return nil
	}
	settings, err := readConfig(file, fs)
	if err != nil {
		return err
	}
	for _, s := range settings {
		if fs.Lookup(s.key).Changed {
			continue
		}
		if err := fs.Set(s.key, s.value); err != nil {
			return usageError("config %s: %s: %v", file, s.key, err)
		}
	}
	return nil
}

type setting struct{ key, value string }

// readConfig reads a YAML config file: a mapping of flag names to
// scalars, or sequences of scalars for flags that take a comma-separated
// list. Unknown keys, nested maps and repeated keys are errors.
func readConfig(file string, fs *pflag.FlagSet) ([]setting, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, usageError("config: %v", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
	if err != nil {
		return nil, usageError("config %s: %v", file, err)
	}
	if len(data) > maxConfigFile {
		return nil, usageError("config %s: larger than %d KiB; it holds flags only", file, maxConfigFile>>10)
	}
	return parseConfig(file, data, fs)
}

// parseConfig reads a config file's content (readConfig).
func parseConfig(file string, data []byte, fs *pflag.FlagSet) ([]setting, error) {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // an empty file sets nothing
		}
		return nil, usageError("config %s: not YAML: %v", file, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, usageError("config %s: want a mapping of flag names to values (addr: 127.0.0.1:8080)", file)
	}
	var out []setting
	seen := map[string]bool{}
	if len(root.Content)%2 != 0 {
		return nil, usageError("config %s: not a mapping of flag names to values", file)
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		key := k.Value
		if fs.Lookup(key) == nil || key == "config" || key == "help" || pflagGlobal(key) {
			return nil, usageError("config %s line %d: unknown key %q (the keys are this command's flag names: %s)", file, k.Line, key, strings.Join(flagNames(fs), ", "))
		}
		if seen[key] {
			return nil, usageError("config %s line %d: key %q given twice", file, k.Line, key)
		}
		seen[key] = true
		var value string
		switch v.Kind {
		case yaml.ScalarNode:
			if v.Tag == "!!null" {
				return nil, usageError("config %s line %d: %s has no value", file, v.Line, key)
			}
			value = v.Value
		case yaml.SequenceNode:
			var items []string
			for _, it := range v.Content {
				if it.Kind != yaml.ScalarNode {
					return nil, usageError("config %s line %d: %s: want a value or a list of values", file, it.Line, key)
				}
				items = append(items, it.Value)
			}
			value = strings.Join(items, ",")
		case yaml.MappingNode, yaml.AliasNode, yaml.DocumentNode:
			return nil, usageError("config %s line %d: %s: want a value or a list of values", file, v.Line, key)
		}
		out = append(out, setting{key, value})
	}
	return out, nil
}

// pflagGlobal names the root's flags, which a config file does not set.
func pflagGlobal(name string) bool { return name == "server" || name == "token" }

// flagNames lists the keys a config file may hold.
func flagNames(fs *pflag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name != "config" && f.Name != "help" && !pflagGlobal(f.Name) {
			names = append(names, f.Name)
		}
	})
	sort.Strings(names)
	return names
}
