package jwtcache

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
)

// The JSON of tokens and introspection answers is read member by member,
// rather than unmarshalled into a map or struct, because encoding/json
// forgives what a gateway must not: a repeated name silently takes the last
// value (so {"sub":"u1","sub":"admin"} means different things to different
// parsers), and struct fields match names case-insensitively. eachMember
// hands over every top-level member with its decoded name, so the caller
// sees repeated names and decides.

var (
	errNotJSON   = errors.New("not valid JSON")
	errNotObject = errors.New("not a JSON object")
)

// eachMember calls fn with the decoded name and the raw value of every
// member of the JSON object data, in order. It fails when data is not one
// valid JSON object, and with fn's error when fn fails.
func eachMember(data []byte, fn func(name string, value []byte) error) error {
	if !json.Valid(data) {
		return errNotJSON
	}
	// From here on the syntax is known to be valid, which keeps the walk
	// below simple.
	i := skipSpace(data, 0)
	if data[i] != '{' {
		return errNotObject
	}
	i = skipSpace(data, i+1)
	if data[i] == '}' {
		return nil
	}
	for {
		end := stringEnd(data, i)
		name, err := jsonString(data[i:end])
		if err != nil {
			return err
		}
		i = skipSpace(data, end) // at ':'
		i = skipSpace(data, i+1)
		end = valueEnd(data, i)
		if err := fn(name, data[i:end]); err != nil {
			return err
		}
		i = skipSpace(data, end) // at ',' or '}'
		if data[i] == '}' {
			return nil
		}
		i = skipSpace(data, i+1)
	}
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index after the string that starts at data[i].
func stringEnd(data []byte, i int) int {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(data)
}

// valueEnd returns the index after the value that starts at data[i].
func valueEnd(data []byte, i int) int {
	switch data[i] {
	case '"':
		return stringEnd(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				j = stringEnd(data, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return len(data)
	}
	for j := i; j < len(data); j++ { // number, true, false or null
		switch data[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j
		}
	}
	return len(data)
}

var errNotString = errors.New("not a JSON string")

// jsonString decodes a raw JSON string value.
func jsonString(raw []byte) (string, error) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", errNotString
	}
	if plainASCII(raw) {
		return string(raw[1 : len(raw)-1]), nil
	}
	// Escapes, and bytes that may not be valid UTF-8, which encoding/json
	// replaces with U+FFFD: names and values read as every other JSON
	// reader reads them.
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// plainASCII reports whether a raw JSON string is ASCII without escapes.
func plainASCII(raw []byte) bool {
	for _, c := range raw {
		if c == '\\' || c >= 0x80 {
			return false
		}
	}
	return true
}

// isJSONNumber reports whether a raw JSON value is a number.
func isJSONNumber(raw []byte) bool {
	return len(raw) > 0 && (raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9')
}

// jsonSeconds reads a NumericDate (RFC 7519 §2): a JSON number of seconds,
// possibly fractional. It returns Unix nanoseconds, clamped to about ±272
// years around 1970 so that adding a leeway cannot overflow.
func jsonSeconds(raw []byte) (int64, bool) {
	if !isJSONNumber(raw) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	const limit = 1 << 33 // seconds
	f = max(-limit, min(f, limit))
	return int64(f * 1e9), true
}

// jsonStrings decodes a raw JSON array of strings; ok is false when raw is
// not an array or holds anything but strings.
func jsonStrings(raw []byte) (list []string, ok bool) {
	if len(raw) == 0 || raw[0] != '[' {
		return nil, false
	}
	var elems []json.RawMessage
	if json.Unmarshal(raw, &elems) != nil {
		return nil, false
	}
	list = make([]string, 0, len(elems))
	for _, e := range elems {
		s, err := jsonString(e)
		if err != nil {
			return nil, false
		}
		list = append(list, s)
	}
	return list, true
}

// claimText renders a claim for a header: a string as is, a number in its
// JSON text, an array of strings joined with ","; ok is false for every
// other type (objects, booleans, null, mixed arrays), which are skipped.
// exact is false for an array with a comma inside an element, whose joined
// text a backend would split into elements the token never had.
func claimText(raw []byte) (text string, ok, exact bool) {
	switch {
	case len(raw) == 0:
		return "", false, true
	case raw[0] == '"':
		s, err := jsonString(raw)
		return s, err == nil, true
	case isJSONNumber(raw):
		return string(raw), true, true
	case raw[0] == '[':
		list, ok := jsonStrings(raw)
		exact := !slices.ContainsFunc(list, func(s string) bool { return strings.IndexByte(s, ',') >= 0 })
		return strings.Join(list, ","), ok, exact
	}
	return "", false, true
}
