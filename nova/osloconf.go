package nova

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/ini.v1"
)

// This file holds oslo.config's semantics (oslo.config 9, the one Nova 26
// runs with), apart from Nova's options:
//
//   - Files are read with gopkg.in/ini.v1, set to oslo's iniparser rules: no
//     inline comments ("a = b # c" is "b # c"), no backslash continuation,
//     indented lines continue the value above (joined with "\n", each with its
//     indentation removed), a value wrapped in matching quotes loses them,
//     "=" or ":" separate key and value, a later key in a section wins.
//   - Section names are case-insensitive except DEFAULT, which must be
//     written in capitals ("[default]" is another, unused group); option
//     names are case-sensitive.
//   - Values come from an ordered list of sources: default files, then the
//     command line from left to right, where --config-file and --config-dir
//     put their files in at their position and other options their value.
//     The last source that sets an option wins.
//   - $name, ${name} and ${group.name} in values are replaced by other
//     options' values; "$$" and "\$" give "$".

// oslo's default search, used when no --config-file (or no --config-dir) is
// given: ~/.nova, ~, /etc/nova, /etc, for nova.conf and <program>.conf (and
// the .conf.d directories).
func defaultSearchDirs() []string {
	var dirs []string
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".nova"), home)
	}
	return append(dirs, "/etc/nova", "/etc")
}

// confFile is one parsed configuration file: normalized group name → option
// name → value as written (before substitution).
type confFile struct {
	path     string
	sections map[string]map[string]string
}

// source is one entry of the ordered source list: a file, or one command-line
// option with its value.
type source struct {
	file *confFile
	opt  *optDef // command-line option
	val  string
}

// normalizeGroup is oslo's _normalize_group_name.
func normalizeGroup(name string) string {
	if name == "DEFAULT" {
		return name
	}
	return strings.ToLower(name)
}

// iniOptions are ini.v1's settings that match oslo.config's iniparser.
var iniOptions = ini.LoadOptions{
	IgnoreInlineComment:        true,
	IgnoreContinuation:         true,
	AllowPythonMultilineValues: true,
	PreserveSurroundedQuote:    true,
	KeyValueDelimiters:         "=:",
}

// readConfFile parses one file the way oslo.config does.
func readConfFile(path string) (*confFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config file: %w", err)
	}
	return parseConfData(path, data)
}

// parseConfData parses the contents of the file named path.
func parseConfData(path string, data []byte) (*confFile, error) {
	if line, err := checkStartsWithSection(data); err != nil {
		return nil, fmt.Errorf("config file %s:%d: %w", path, line, err)
	}
	f, err := ini.LoadSources(iniOptions, data)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	cf := &confFile{path: path, sections: map[string]map[string]string{}}
	for _, sec := range f.Sections() {
		g := normalizeGroup(sec.Name())
		for _, k := range sec.Keys() {
			v, err := osloValue(k.Value())
			if err != nil {
				return nil, fmt.Errorf("config file %s: [%s] %s: %w", path, sec.Name(), k.Name(), err)
			}
			if cf.sections[g] == nil {
				cf.sections[g] = map[string]string{}
			}
			cf.sections[g][k.Name()] = v
		}
	}
	return cf, nil
}

// checkStartsWithSection refuses, as oslo does, a file whose first
// assignment comes before any [section] line. ini.v1 would put it in
// DEFAULT. It returns the line number of the offending line.
func checkStartsWithSection(data []byte) (int, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(strings.TrimPrefix(sc.Text(), "\ufeff"), " \t\r\n\f\v")
		switch {
		case line == "", line[0] == '#', line[0] == ';':
			continue
		case line[0] == '[':
			return 0, nil
		default:
			return n, errors.New("section must be started before assignment")
		}
	}
	return 0, nil
}

// osloValue turns ini.v1's raw value into oslo's: quotes around the first
// line removed, continuation lines stripped of their indentation. A blank
// line ends a value in oslo, so a blank continuation followed by another
// indented line is an error there; trailing blank ones are dropped.
func osloValue(raw string) (string, error) {
	lines := strings.Split(raw, "\n")
	first := strings.TrimSpace(lines[0])
	if len(first) > 0 && (first[0] == '"' || first[0] == '\'') && first[len(first)-1] == first[0] {
		first = first[1:max(1, len(first)-1)] // a lone quote leaves "", as Python's v[1:-1]
	}
	out := []string{first}
	blank := false
	for _, l := range lines[1:] {
		l = strings.TrimSpace(l)
		if l == "" {
			blank = true
			continue
		}
		if blank {
			return "", errors.New("unexpected continuation line after a blank line")
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n"), nil
}

// readConfDir reads the *.conf files of a directory in name order, as
// --config-dir does.
func readConfDir(dir string) ([]*confFile, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("config dir: %w", err)
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.conf"))
	if err != nil {
		return nil, fmt.Errorf("config dir %s: %w", dir, err)
	}
	slices.Sort(names)
	var files []*confFile
	for _, n := range names {
		f, err := readConfFile(n)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

// optName is one (group, name) spelling of an option in files.
type optName struct{ group, name string }

// lookupFile returns the value the file gives the first of names that it
// sets: within one file the current name beats deprecated ones.
func (f *confFile) lookup(names []optName) (string, bool) {
	for _, n := range names {
		if v, ok := f.sections[n.group][n.name]; ok {
			return v, true
		}
	}
	return "", false
}

// templateRE is Python's string.Template pattern with oslo's identifier
// pattern ([_a-z][._a-z0-9]*, case-insensitive).
var templateRE = regexp.MustCompile(`(?i)\$(?:(\$)|([_a-z][._a-z0-9]*)|\{([_a-z][._a-z0-9]*)\}|)`)

// maxSubstitutionDepth bounds nested substitutions ($a naming $b ...); oslo
// would recurse until Python's limit.
const maxSubstitutionDepth = 8

// substitute replaces $name, ${name} and ${group.name} in v, as oslo's
// _substitute does with Template.safe_substitute: "$$" and "\$" are "$", a
// "$" that starts no name stays. A name without a group is looked up in
// group, then in DEFAULT. lookup returns false for an option it does not
// know; oslo fails on options Nova does not register, so that is an error.
func substitute(v, group string, depth int, lookup func(group, name string, depth int) (string, bool, error)) (string, error) {
	if !strings.Contains(v, "$") {
		return v, nil
	}
	if depth > maxSubstitutionDepth {
		return "", errors.New("substitution nested too deeply (a loop?)")
	}
	v = strings.ReplaceAll(v, `\$`, "$$")
	var firstErr error
	out := templateRE.ReplaceAllStringFunc(v, func(m string) string {
		sub := templateRE.FindStringSubmatch(m)
		id := sub[2] + sub[3]
		switch {
		case sub[1] != "":
			return "$"
		case id == "":
			return m
		}
		g, name := group, id
		if i := strings.IndexByte(id, '.'); i >= 0 {
			g, name = normalizeGroup(id[:i]), id[i+1:]
			if g == "DEFAULT" { // not a group oslo can name this way
				if firstErr == nil {
					firstErr = fmt.Errorf("${%s}: no group DEFAULT (write $%s)", id, name)
				}
				return ""
			}
		}
		val, ok, err := lookup(g, name, depth+1)
		if err == nil && !ok && !strings.Contains(id, ".") && g != "DEFAULT" {
			val, ok, err = lookup("DEFAULT", name, depth+1)
		}
		if err == nil && !ok {
			err = fmt.Errorf("$%s names no option vncrelay knows (set it in nova.conf)", id)
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return val
	})
	if firstErr != nil {
		return "", firstErr
	}
	return out, nil
}
