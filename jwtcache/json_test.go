package jwtcache

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func members(t testing.TB, data string) ([]string, error) {
	var out []string
	err := eachMember([]byte(data), func(name string, value []byte) error {
		out = append(out, name+"="+string(value))
		return nil
	})
	return out, err
}

func TestEachMember(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // members joined with "|", or "error"
	}{
		{`{}`, ""},
		{` { "a" : 1 , "b":"x,}" ,"c":[1,{"d":"]"}],"e":null,"f":true } `, `a=1|b="x,}"|c=[1,{"d":"]"}]|e=null|f=true`},
		{`{"s\u0075b":"a\"b","":-1.5e3}`, `sub="a\"b"|=-1.5e3`},
		{`{"a":{"a":1,"a":2}}`, `a={"a":1,"a":2}`}, // nested names are the nested object's business
		{`[1]`, "error"},
		{`"x"`, "error"},
		{`{"a":1,}`, "error"},
		{`{"a":1} {}`, "error"},
		{`{"a":01}`, "error"},
		{``, "error"},
	} {
		got, err := members(t, tc.in)
		s := strings.Join(got, "|")
		if err != nil {
			s = "error"
		}
		if s != tc.want {
			t.Errorf("eachMember(%s) = %s, want %s", tc.in, s, tc.want)
		}
	}
}

func TestClaimText(t *testing.T) {
	for raw, want := range map[string]string{
		`"x"`: "x", `"a\nb"`: "a\nb", `42`: "42", `-1.5e3`: "-1.5e3",
		`["a","b"]`: "a,b", `[]`: "", `["a",1]`: "-", `{"a":1}`: "-", `true`: "-", `null`: "-",
		`["a,admin"]`: "inexact", `["a","b,c"]`: "inexact", `"a,b"`: "a,b",
	} {
		got, ok, exact := claimText([]byte(raw))
		if !ok {
			got = "-"
		}
		if !exact {
			got = "inexact"
		}
		if got != want {
			t.Errorf("claimText(%s) = %q, want %q", raw, got, want)
		}
	}
}

// FuzzEachMember holds eachMember to encoding/json: for every input it
// accepts, the members are the object's, in order, each value decoding
// to what encoding/json decodes.
func FuzzEachMember(f *testing.F) {
	for _, input := range []string{`{}`, `{"a":1}`, `{"a":"\u0000","b":[{"c":"}"}]}`, `{"a":1,"a":2}`, `[{}]`, `{"\ud800":1}`, ` {"x" :true}`} {
		f.Add([]byte(input))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var names []string
		var values [][]byte
		err := eachMember(data, func(name string, value []byte) error {
			names, values = append(names, name), append(values, value)
			return nil
		})
		var want map[string]json.RawMessage
		jsonErr := json.Unmarshal(data, &want)
		if err != nil {
			if jsonErr == nil && bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
				t.Fatalf("eachMember refused %q, which encoding/json accepts: %v", data, err)
			}
			return
		}
		if jsonErr != nil {
			t.Fatalf("eachMember accepted %q, which encoding/json refuses: %v", data, jsonErr)
		}
		for i, name := range names {
			// Later members win in encoding/json; compare the last one.
			last := true
			for _, n := range names[i+1:] {
				if n == name {
					last = false
				}
			}
			if !last {
				continue
			}
			var a, b any
			if json.Unmarshal(values[i], &a) != nil || json.Unmarshal(want[name], &b) != nil {
				t.Fatalf("member %q value %q does not decode", name, values[i])
			}
			aj, _ := json.Marshal(a)
			bj, _ := json.Marshal(b)
			if !bytes.Equal(aj, bj) {
				t.Fatalf("member %q = %s, encoding/json says %s", name, aj, bj)
			}
		}
	})
}

// FuzzJWTVerify feeds arbitrary bytes to Verify: it must never panic, and
// whatever it accepts must carry a subject and an expiry, since every
// accepted token was signed with a test key over claims that have both.
func FuzzJWTVerify(f *testing.F) {
	j, _ := newTestJWT(f, nil)
	k := keys(f)
	good := sign(f, "HS256", k.hmac, header("HS256", "hmac-1"), goodClaims())
	for _, input := range []string{good, good + ".x", "a.b.c", "..", "e30.e30.", "eyJhbGciOiJub25lIn0.e30."} {
		f.Add([]byte(input))
	}
	f.Fuzz(func(t *testing.T, token []byte) {
		id, err := j.Verify(token)
		if err == nil && (len(id.Subject) == 0 || id.Expires.IsZero()) {
			t.Fatalf("accepted %q with identity %+v", token, id)
		}
	})
}
