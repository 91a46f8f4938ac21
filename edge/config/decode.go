package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// The decoder walks the yaml.Node tree itself instead of calling
// yaml.Unmarshal for three reasons: yaml.Unmarshal stops at the first
// unknown key (KnownFields) and reports it by line, not by key path; it
// iterates Go maps, so its errors would come in random order; and it cannot
// turn a mapping into an ordered slice (Aggregate.Calls). Walking the nodes
// gives every problem with its key path, in file order, in one pass.

// decodeBudgetBase and decodeBudgetPerByte bound the number of nodes a
// decode may visit. Aliases let a small file expand into a huge tree
// ("billion laughs"); a real configuration visits about one node per few
// bytes, so the bound only stops documents built to explode.
const (
	decodeBudgetBase    = 1 << 17
	decodeBudgetPerByte = 8
)

// maxProblems bounds the number of problems reported for one file.
const maxProblems = 1000

// position is where a key path was found in the file; errors are sorted by
// it.
type position struct{ line, col int }

// decoder fills Go values from yaml nodes, collecting every problem.
type decoder struct {
	errs Errors
	// where holds the file position of each problem in errs.
	where []position
	// rejected holds the paths whose values could not be decoded: a later
	// semantic problem at or below such a path (or right above it) is a
	// consequence, not news, and is not reported.
	rejected []string
	// pos records where each decoded key path is in the file, and ends
	// where each decoded mapping ends: a problem with a key that is absent
	// is placed after the keys that are present.
	pos, ends map[string]position
	// following holds the anchored nodes whose aliases are being decoded,
	// to report an alias that contains itself instead of recursing forever.
	following map[*yaml.Node]bool
	budget    int
	exhausted bool
}

// decodeDocument parses data as a single YAML document and decodes it into
// c. The returned decoder holds the problems found and where each key path
// is in the file; fatal is set when data is not a usable document at all.
func decodeDocument(data []byte, c *Config) (d *decoder, fatal bool) {
	d = &decoder{
		pos:       make(map[string]position),
		ends:      make(map[string]position),
		following: make(map[*yaml.Node]bool),
		budget:    decodeBudgetBase + decodeBudgetPerByte*len(data),
	}
	root, problem := parseYAML(data)
	if problem != nil {
		d.errs = Errors{*problem}
		d.where = []position{{}}
		return d, true
	}
	if root.Kind != yaml.MappingNode && root.Kind != yaml.AliasNode {
		d.reject(root, "", "want a mapping of settings at the top of the file, got %s", describe(root))
		return d, true
	}
	d.value("", root, reflect.ValueOf(c).Elem())
	// A decode cut short leaves a Config too incomplete to check further.
	return d, d.exhausted
}

// parseYAML returns the content node of the only document in data.
func parseYAML(data []byte) (root *yaml.Node, problem *Error) {
	// The yaml package is fed untrusted bytes (a reload reads whatever is
	// in the file); a panic inside it must become a config error, not end
	// the process.
	defer func() {
		if r := recover(); r != nil {
			root, problem = nil, &Error{Msg: fmt.Sprintf("invalid YAML: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{Msg: "config is empty"}
		}
		return nil, &Error{Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, &Error{Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	default:
		return nil, &Error{Msg: fmt.Sprintf("config has more than one YAML document (the second starts on line %d); keep one", next.Line)}
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil, &Error{Msg: "config is empty"}
	}
	return doc.Content[0], nil
}

var durationType = reflect.TypeFor[Duration]()

// value decodes n into v, which is addressable. A null node leaves v
// unchanged, so that an empty key means the same as an absent one.
func (d *decoder) value(path string, n *yaml.Node, v reflect.Value) {
	if !d.spend(n, path) {
		return
	}
	if n.Kind == yaml.AliasNode {
		target := n.Alias
		if target == nil {
			d.reject(n, path, "alias *%s refers to no anchor", n.Value)
			return
		}
		if d.following[target] {
			d.reject(n, path, "alias *%s contains itself", n.Value)
			return
		}
		d.following[target] = true
		defer delete(d.following, target)
		n = target
	}
	if isNull(n) {
		return
	}
	if v.Type() == durationType {
		d.duration(path, n, v)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.Type().Elem().Kind() == reflect.Struct && n.Kind != yaml.MappingNode {
			d.reject(n, path, "want a mapping, got %s", describe(n))
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(path, n, v.Elem())
	case reflect.Struct:
		d.structure(path, n, v)
	case reflect.Map:
		d.mapping(path, n, v)
	case reflect.Slice:
		if nameField(v.Type().Elem()) >= 0 {
			d.namedList(path, n, v)
		} else {
			d.list(path, n, v)
		}
	case reflect.String:
		d.str(path, n, v)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		d.integer(path, n, v)
	case reflect.Bool:
		d.boolean(path, n, v)
	case reflect.Float32, reflect.Float64:
		d.float(path, n, v)
	default:
		panic("BUG: config: no decoding for field type " + v.Type().String())
	}
}

// spend takes one node from the budget and reports whether decoding may go
// on.
func (d *decoder) spend(n *yaml.Node, path string) bool {
	if d.exhausted {
		return false
	}
	d.budget--
	if d.budget < 0 {
		d.reject(n, path, "document expands to too many nodes (aliases nested too deep?)")
		d.exhausted = true
		return false
	}
	return true
}

// problem records a problem at path, found at n. Past maxProblems the
// decoder gives up: a file that wrong is better fixed from the top than
// listed in full, and aliases could otherwise multiply the list without
// bound.
func (d *decoder) problem(n *yaml.Node, path, format string, args ...any) {
	if d.exhausted {
		return
	}
	if len(d.errs) >= maxProblems {
		d.exhausted = true
		format, args = "too many problems; stopped after %d", []any{maxProblems}
	}
	d.errs.add(path, format, args...)
	d.where = append(d.where, position{n.Line, n.Column})
}

// reject records a problem with the value n at path: the value is left
// out of the Config.
func (d *decoder) reject(n *yaml.Node, path, format string, args ...any) {
	d.problem(n, path, format, args...)
	d.rejected = append(d.rejected, path)
}

// at records that path was written at n's position in the file.
func (d *decoder) at(path string, n *yaml.Node) {
	if _, ok := d.pos[path]; !ok {
		d.pos[path] = position{n.Line, n.Column}
	}
}

// structure decodes a mapping into the fields of a struct, by yaml tag.
func (d *decoder) structure(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.reject(n, path, "want a mapping, got %s", describe(n))
		return
	}
	d.ends[path] = end(n)
	fields := fieldsOf(v.Type())
	for _, p := range d.pairs(path, n) {
		child := keyPath(path, p.name)
		d.at(child, p.key)
		i, ok := fields[p.name]
		if !ok {
			d.problem(p.key, child, "unknown key")
			continue
		}
		d.value(child, p.val, v.Field(i))
	}
}

// mapping decodes a mapping into a map keyed by string, in file order.
func (d *decoder) mapping(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.reject(n, path, "want a mapping, got %s", describe(n))
		return
	}
	if v.Type().Key().Kind() != reflect.String {
		panic("BUG: config: map keys must be strings in " + v.Type().String())
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	d.ends[path] = end(n)
	for _, p := range d.pairs(path, n) {
		child := keyPath(path, p.name)
		d.at(child, p.key)
		elem := reflect.New(v.Type().Elem()).Elem()
		d.value(child, p.val, elem)
		fillNil(elem)
		v.SetMapIndex(reflect.ValueOf(p.name).Convert(v.Type().Key()), elem)
	}
}

// list decodes a sequence into a slice. A single scalar is not taken for a
// one-element list: `methods: GET` is more often a mistake than a
// shorthand, and being strict keeps one spelling per setting.
func (d *decoder) list(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		d.reject(n, path, "want a list, got %s", describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), 0, len(n.Content))
	for i, item := range n.Content {
		child := indexPath(path, i)
		d.at(child, item)
		elem := reflect.New(v.Type().Elem()).Elem()
		d.value(child, item, elem)
		fillNil(elem)
		s = reflect.Append(s, elem)
	}
	v.Set(s)
}

// namedList decodes a mapping into a slice of structs whose Name field
// (tagged yaml:"-") takes the key. This is how Aggregate.Calls keeps the
// order of the file, which a Go map would lose.
func (d *decoder) namedList(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.reject(n, path, "want a mapping of names to entries, got %s", describe(n))
		return
	}
	d.ends[path] = end(n)
	name := nameField(v.Type().Elem())
	pairs := d.pairs(path, n)
	s := reflect.MakeSlice(v.Type(), 0, len(pairs))
	for _, p := range pairs {
		child := keyPath(path, p.name)
		d.at(child, p.key)
		elem := reflect.New(v.Type().Elem()).Elem()
		d.value(child, p.val, elem)
		elem.Field(name).SetString(p.name)
		s = reflect.Append(s, elem)
	}
	v.Set(s)
}

// fillNil replaces a nil pointer taken from a list or map entry by a
// pointer to a zero value, so that `users:` with nothing under it is a
// Service with no settings (which Validate then explains) rather than a
// nil that every later reader would have to guard against.
func fillNil(v reflect.Value) {
	if v.Kind() == reflect.Pointer && v.IsNil() {
		v.Set(reflect.New(v.Type().Elem()))
	}
}

func (d *decoder) str(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.ScalarNode {
		d.reject(n, path, "want a string, got %s", describe(n))
		return
	}
	switch n.ShortTag() {
	case "!!str", "!!int", "!!float", "!!bool", "!!timestamp":
		// Unquoted numbers and booleans are taken as written, so that
		// `query: {version: 2}` means "2", as yaml.Unmarshal does.
		v.SetString(n.Value)
	default:
		d.reject(n, path, "want a string, got a %s value", n.ShortTag())
	}
}

func (d *decoder) integer(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		_, err := strconv.ParseInt(n.Value, 0, 64)
		d.reject(n, path, "want an integer, got %s%s", describe(n), quotedHint(n, err == nil))
		return
	}
	// Base 0 accepts what YAML writes as integers: 1_000, 0x10, 0o17, 0b1.
	x, err := strconv.ParseInt(n.Value, 0, 64)
	if err != nil || v.OverflowInt(x) {
		d.reject(n, path, "integer %s is out of range", n.Value)
		return
	}
	v.SetInt(x)
}

func (d *decoder) boolean(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		_, err := strconv.ParseBool(strings.ToLower(n.Value))
		d.reject(n, path, "want true or false, got %s%s", describe(n), quotedHint(n, err == nil))
		return
	}
	v.SetBool(strings.EqualFold(n.Value, "true"))
}

func (d *decoder) float(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!float" || n.ShortTag() == "!!int") {
		x, err := strconv.ParseFloat(n.Value, 64)
		if err == nil && !math.IsNaN(x) && !math.IsInf(x, 0) {
			v.SetFloat(x)
			return
		}
	}
	_, err := strconv.ParseFloat(n.Value, 64)
	d.reject(n, path, "want a number, got %s%s", describe(n), quotedHint(n, err == nil))
}

// quotedHint explains why a value that looks right was refused: it was
// quoted, which makes it a string in YAML.
func quotedHint(n *yaml.Node, looksRight bool) string {
	if looksRight && n.Kind == yaml.ScalarNode && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		return " (quoted, so a string: remove the quotes)"
	}
	return ""
}

// end returns a position just after the last node inside n.
func end(n *yaml.Node) position {
	for len(n.Content) > 0 {
		n = n.Content[len(n.Content)-1]
	}
	return position{n.Line, n.Column + 1}
}

func (d *decoder) duration(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.ScalarNode {
		d.reject(n, path, "want a duration, got %s", describe(n))
		return
	}
	x, err := time.ParseDuration(n.Value)
	if err != nil {
		d.reject(n, path, "invalid duration %q (use Go syntax such as 250ms, 2s, 1m)", n.Value)
		return
	}
	if x < 0 {
		d.reject(n, path, "duration %s must not be negative", n.Value)
		return
	}
	v.SetInt(int64(x))
}

// pair is one entry of a mapping, with merge keys already applied.
type pair struct {
	name     string
	key, val *yaml.Node
}

// pairs returns the entries of the mapping n in file order. Duplicate keys
// are reported and dropped (the first one stands). Merge keys (`<<: *base`)
// are expanded as YAML defines them: keys written in the mapping win over
// merged ones, and earlier merge sources win over later ones.
func (d *decoder) pairs(path string, n *yaml.Node) []pair {
	var out, merged []pair
	first := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !d.spend(n, path) {
			return out
		}
		key, val := n.Content[i], n.Content[i+1]
		if key.Kind == yaml.ScalarNode && key.ShortTag() == "!!merge" {
			merged = append(merged, d.merge(path, val)...)
			continue
		}
		name, ok := d.keyName(path, key)
		if !ok {
			continue
		}
		if prev, dup := first[name]; dup {
			d.problem(key, keyPath(path, name), "duplicate key (first on line %d)", prev.Line)
			continue
		}
		first[name] = key
		out = append(out, pair{name, key, val})
	}
	for _, p := range merged {
		if _, dup := first[p.name]; !dup {
			first[p.name] = p.key
			out = append(out, p)
		}
	}
	return out
}

// merge returns the entries that a merge key's value brings into the
// mapping at path: a mapping, or a list of mappings, usually written as
// aliases.
func (d *decoder) merge(path string, val *yaml.Node) []pair {
	at := path + ".<<"
	if path == "" {
		at = "<<"
	}
	if val.Kind == yaml.AliasNode {
		target := val.Alias
		if target == nil || d.following[target] {
			d.reject(val, at, "alias *%s cannot be merged here", val.Value)
			return nil
		}
		d.following[target] = true
		defer delete(d.following, target)
		val = target
	}
	switch val.Kind {
	case yaml.MappingNode:
		return d.pairs(path, val)
	case yaml.SequenceNode:
		var out []pair
		for _, item := range val.Content {
			if item.Kind == yaml.SequenceNode {
				d.reject(item, at, "want a mapping to merge, got a list")
				continue
			}
			out = append(out, d.merge(path, item)...)
		}
		return out
	}
	d.reject(val, at, "want a mapping or a list of mappings to merge, got %s", describe(val))
	return nil
}

// keyName returns a mapping key as a string; keys must be scalars.
func (d *decoder) keyName(path string, key *yaml.Node) (string, bool) {
	if key.Kind == yaml.AliasNode && key.Alias != nil {
		key = key.Alias
	}
	if key.Kind != yaml.ScalarNode || isNull(key) {
		d.problem(key, path, "keys must be strings, got %s", describe(key))
		return "", false
	}
	return key.Value, true
}

// isNull reports whether n is an empty value: `key:`, `~` or `null`.
func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names what a node holds for a "want X, got Y" message.
func describe(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.AliasNode:
		if n.Alias != nil {
			return describe(n.Alias)
		}
		return "an alias"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case isNull(n):
		return "null"
	}
	v := n.Value
	if len(v) > 60 {
		v = v[:57] + "..."
	}
	return strconv.Quote(v)
}

// fieldIndex maps yaml keys to struct field indexes, per struct type.
var fieldIndex sync.Map // reflect.Type -> map[string]int

// fieldsOf returns the yaml keys of struct type t. Fields tagged "-" or
// without a tag are not part of the file.
func fieldsOf(t reflect.Type) map[string]int {
	if m, ok := fieldIndex.Load(t); ok {
		return m.(map[string]int)
	}
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		m[name] = i
	}
	fieldIndex.Store(t, m)
	return m
}

// nameField returns the index of the Name field tagged yaml:"-" of struct
// type t, which marks a list written as a mapping of names, or -1.
func nameField(t reflect.Type) int {
	if t.Kind() != reflect.Struct {
		return -1
	}
	f, ok := t.FieldByName("Name")
	if !ok || len(f.Index) != 1 || f.Type.Kind() != reflect.String || f.Tag.Get("yaml") != "-" {
		return -1
	}
	return f.Index[0]
}
