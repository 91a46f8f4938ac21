// Command tokens signs the HS256 JSON Web Token that the full-chain
// benchmark sends on every request. The gateway verifies it once and then
// serves it from its verified-token cache, which is the path under test;
// the token therefore carries everything the benchmark configuration asks
// for (kid, iss, aud, sub and the mapped claims) and an exp far enough
// ahead that it cannot expire during a run.
//
//	tokens -secret-file bench/results/tmp/jwt.secret -kid bench \
//	       -issuer https://bench.local -audience bench -subject user-1
//
// It prints the compact token and a newline, nothing else.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/pascaldekloe/jwt"
)

func main() {
	secretFile := flag.String("secret-file", "", "file holding the HMAC secret, as the gateway's secret_file reads it (required)")
	kid := flag.String("kid", "bench", "key id written into the JOSE header")
	issuer := flag.String("issuer", "https://bench.local", "iss claim")
	audience := flag.String("audience", "bench", "aud claim")
	subject := flag.String("subject", "user-1", "sub claim")
	tenant := flag.String("tenant", "tenant-1", "tenant_id claim")
	ttl := flag.Duration("ttl", 24*time.Hour, "how long the token is valid")
	flag.Parse()
	if *secretFile == "" {
		log.Fatal("tokens: -secret-file is required")
	}
	secret, err := os.ReadFile(*secretFile)
	if err != nil {
		log.Fatalf("tokens: %v", err)
	}
	secret = bytes.TrimSpace(secret) // as the gateway reads a secret_file

	now := time.Now().Truncate(time.Second) // whole seconds: exp and iat stay integers
	var c jwt.Claims
	c.Issuer = *issuer
	c.Subject = *subject
	c.Audiences = []string{*audience}
	c.Issued = jwt.NewNumericTime(now)
	c.Expires = jwt.NewNumericTime(now.Add(*ttl))
	c.Set = map[string]any{"tenant_id": *tenant, "roles": []string{"reader", "writer"}}
	header, err := json.Marshal(map[string]string{"kid": *kid})
	if err != nil {
		log.Fatalf("tokens: %v", err)
	}
	token, err := c.HMACSign(jwt.HS256, secret, header)
	if err != nil {
		log.Fatalf("tokens: %v", err)
	}
	fmt.Printf("%s\n", token)
}
