package edge

import (
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/edgegate/gateway/edge/config"
)

// certSet is the certificates of one configuration. The TLS listener reads
// the current set through an atomic pointer, so a reload that re-reads the
// files takes effect on the next handshake without a restart.
type certSet struct {
	certs []tls.Certificate
}

func loadCertSet(cfg *config.Config) (*certSet, error) {
	t := cfg.Server.TLS
	if t == nil {
		return nil, nil
	}
	s := &certSet{}
	var errs []error
	for i, c := range t.Certificates {
		cert, err := tls.LoadX509KeyPair(cfg.Resolve(c.Cert), cfg.Resolve(c.Key))
		if err != nil {
			errs = append(errs, fmt.Errorf("server.tls.certificates[%d]: %w", i, err))
			continue
		}
		s.certs = append(s.certs, cert)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(s.certs) == 0 {
		return nil, errors.New("server.tls.certificates: at least one certificate is required")
	}
	return s, nil
}

// pick chooses the first certificate whose names match the client's SNI
// (SupportsCertificate also checks the client can verify its key type),
// else the first certificate.
func (s *certSet) pick(hello *tls.ClientHelloInfo) *tls.Certificate {
	if hello.ServerName != "" {
		for i := range s.certs {
			if hello.SupportsCertificate(&s.certs[i]) == nil {
				return &s.certs[i]
			}
		}
	}
	return &s.certs[0]
}

func tlsVersion(v string) uint16 {
	if v == "1.3" {
		return tls.VersionTLS13
	}
	return tls.VersionTLS12
}

func (g *Gateway) tlsConfig(minVersion string) *tls.Config {
	return &tls.Config{
		MinVersion: tlsVersion(minVersion),
		// fasthttp speaks HTTP/1.1 only; never offer h2.
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			return g.certs.Load().pick(hello), nil
		},
	}
}
