package config

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Load reads the configuration file at path and returns it completed with
// defaults and validated; see ParseWith.
func Load(path string) (*Config, error) {
	return LoadWith(path, Overrides{})
}

// LoadWith is Load with command-line and environment overrides applied
// before defaults and validation.
func LoadWith(path string, o Overrides) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{{Msg: "cannot read config: " + err.Error()}}
	}
	return ParseWith(data, path, o)
}

// Parse decodes data, the content of the file at path, and returns it
// completed with defaults and validated; see ParseWith.
func Parse(data []byte, path string) (*Config, error) {
	return ParseWith(data, path, Overrides{})
}

// ParseWith decodes data, the content of the file at path, applies the
// overrides, fills defaults and validates the result. Path is kept in
// Config.Path to resolve the relative file names of the config; it may be
// empty, and the file is not read.
//
// Decoding is strict: unknown keys, duplicate keys, values of the wrong
// type and invalid durations are errors. On any problem ParseWith returns
// a nil Config and an Errors listing every problem found, decoding and
// semantic ones together, in the order of the file. A semantic problem that
// only follows from a value that could not be decoded is left out, so that
// each mistake is reported once.
//
// Overrides are applied before defaults because some defaults depend on
// them: a Redis address given by flag makes rate limits default to the
// redis mode, as if it had been written in the file.
func ParseWith(data []byte, path string, o Overrides) (*Config, error) {
	c := &Config{Path: path}
	d, fatal := decodeDocument(data, c)
	if fatal {
		return nil, d.errs
	}
	o.Apply(c)
	c.Defaults()
	semantic := c.validate()
	if len(d.errs) == 0 && len(semantic) == 0 {
		return c, nil
	}
	return nil, d.combine(semantic)
}

// combine returns the decoding problems and the semantic ones together, in
// file order, without the semantic problems that follow from a rejected
// value.
func (d *decoder) combine(semantic Errors) Errors {
	rejected := make(map[string]bool, len(d.rejected))
	parents := make(map[string]bool, len(d.rejected))
	for _, r := range d.rejected {
		rejected[r] = true
		parents[parentPath(r)] = true
	}
	type found struct {
		err Error
		pos position
	}
	all := make([]found, 0, len(d.errs)+len(semantic))
	for i, e := range d.errs {
		all = append(all, found{e, d.where[i]})
	}
	for _, e := range semantic {
		if parents[e.Path] || d.underRejected(e.Path, rejected) {
			continue
		}
		all = append(all, found{e, d.position(e.Path)})
	}
	slices.SortStableFunc(all, func(a, b found) int {
		return cmp.Or(cmp.Compare(a.pos.line, b.pos.line), cmp.Compare(a.pos.col, b.pos.col))
	})
	out := make(Errors, 0, min(len(all), maxProblems+1))
	for _, f := range all {
		if len(out) == maxProblems {
			out = append(out, Error{Msg: fmt.Sprintf("too many problems; stopped after %d", maxProblems)})
			break
		}
		out = append(out, f.err)
	}
	return out
}

// underRejected reports whether p is a rejected path or lies inside one.
func (d *decoder) underRejected(p string, rejected map[string]bool) bool {
	for {
		if rejected[p] {
			return true
		}
		if p == "" {
			return false
		}
		p = parentPath(p)
	}
}

// position returns where the key at p was written. For a key that is not
// in the file it is the end of the nearest enclosing mapping that is, so
// that "required" comes after the problems of the keys that are there.
func (d *decoder) position(p string) position {
	if pos, ok := d.pos[p]; ok {
		return pos
	}
	for p != "" {
		p = parentPath(p)
		if pos, ok := d.ends[p]; ok {
			return pos
		}
		if pos, ok := d.pos[p]; ok {
			return pos
		}
	}
	return position{}
}

// Resolve returns the file name written in the config as one the process
// can open: absolute names unchanged, relative ones joined to the directory
// of the config file (Path), so that a config and the certificates and keys
// beside it can be moved together. An empty name stays empty. Every package
// that opens a file named by the config must go through Resolve.
func (c *Config) Resolve(name string) string {
	if name == "" || filepath.IsAbs(name) || c.Path == "" {
		return name
	}
	return filepath.Join(filepath.Dir(c.Path), name)
}
