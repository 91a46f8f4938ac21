package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Error is one problem of a configuration: the key path it concerns, such
// as "services.users.timeout" or "routes[2].match.path", and what is wrong
// with it. Path is empty for problems of the file as a whole (unreadable,
// empty, not YAML).
type Error struct {
	Path string
	Msg  string
}

// Error returns "path: msg", or msg alone when the problem has no path.
func (e Error) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Errors is every problem found in a configuration, in the order of the
// file. Load, Parse and Validate return it (never an empty one) so that a
// caller can print each problem on its own line:
//
//	var errs config.Errors
//	if errors.As(err, &errs) {
//		for _, e := range errs {
//			fmt.Println(e)
//		}
//	}
type Errors []Error

// Error returns the problems one per line, as `gateway check` prints them.
func (e Errors) Error() string {
	var b strings.Builder
	for i, x := range e {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(x.Error())
	}
	return b.String()
}

// add records a problem at path.
func (e *Errors) add(path, format string, args ...any) {
	*e = append(*e, Error{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// err returns e as an error, or nil when it holds no problem. It exists
// because a nil Errors stored in an error interface is not a nil error.
func (e Errors) err() error {
	if len(e) == 0 {
		return nil
	}
	return e
}

// keyPath returns the path of key inside the mapping at parent. Keys made
// of letters, digits, '_' and '-' are written plainly (services.users);
// any other key is quoted (auth.jwt.claims_to_headers["https://x/roles"])
// so that a path always reads back unambiguously.
func keyPath(parent, key string) string {
	if !plainKey(key) {
		return parent + "[" + strconv.Quote(key) + "]"
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// indexPath returns the path of the i-th element of the sequence at parent.
func indexPath(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

func plainKey(key string) bool {
	if key == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// parentPath returns the path one level above p ("" at the top). It is
// only used to find where in the file a problem belongs, so a quoted key
// that itself contains '.' or '[' merely makes it climb further than
// needed.
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}
