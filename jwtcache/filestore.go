package jwtcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"
)

// FileStore keeps key records in a YAML file, for embedded mode (no
// Redis). The file holds hashes only:
//
//	keys:
//	  - hash: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//	    consumer: acme
//	    plan: gold
//	    expires_at: 2026-01-01T00:00:00Z   # omitted: never
//	    revoked: true                      # omitted: false
//
// Put rewrites the whole file: it writes a temporary file beside it and
// renames it over the old one, so a gateway polling the file never reads a
// half-written one, under an exclusive lock on a ".lock" file beside it, so
// that two `gateway keys` runs do not lose each other's change. It is safe
// for concurrent use.
type FileStore struct {
	path string
	mu   sync.Mutex // serialises Puts within the process; the lock file, across processes
}

var _ KeyStore = (*FileStore)(nil)

// NewFileStore returns a store on the key file at path, which need not
// exist yet: the first Put creates it.
func NewFileStore(path string) *FileStore { return &FileStore{path: path} }

// keyFile is the file's YAML shape.
type keyFile struct {
	Keys []fileRecord `yaml:"keys"`
}

type fileRecord struct {
	Hash      string    `yaml:"hash"`
	Consumer  string    `yaml:"consumer"`
	Plan      string    `yaml:"plan,omitempty"`
	ExpiresAt time.Time `yaml:"expires_at,omitempty"`
	Revoked   bool      `yaml:"revoked,omitempty"`
}

const keyFileHeader = "# API keys of the gateway (embedded mode), managed with `gateway keys`.\n" +
	"# Only the SHA-256 of each key is stored, never the key itself.\n"

// Get reads the file and returns the record with the given hash. A missing
// file holds no records.
func (s *FileStore) Get(_ context.Context, hash string) (KeyRecord, bool, error) {
	recs, err := readKeyFile(s.path)
	if err != nil {
		return KeyRecord{}, false, err
	}
	for _, r := range recs {
		if r.Hash == hash {
			return r, true, nil
		}
	}
	return KeyRecord{}, false, nil
}

// Put adds or replaces a record and rewrites the file.
func (s *FileStore) Put(_ context.Context, rec KeyRecord) error {
	if !validHash(rec.Hash) {
		return fmt.Errorf("jwtcache: %q is not a SHA-256 hex digest", rec.Hash)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := lockFile(s.path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	recs, err := readKeyFile(s.path)
	if err != nil {
		return err
	}
	replaced := false
	for i := range recs {
		if recs[i].Hash == rec.Hash {
			rec.Revoked = rec.Revoked || recs[i].Revoked
			recs[i], replaced = rec, true
		}
	}
	if !replaced {
		recs = append(recs, rec)
	}
	return writeKeyFile(s.path, recs)
}

// readKeyFile parses a key file strictly: unknown fields, malformed or
// repeated hashes and records without a consumer are errors, since a
// gateway that half-understands its key file would let the wrong keys in
// or keep the right ones out. A missing file holds no records.
func readKeyFile(path string) ([]KeyRecord, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var f keyFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("jwtcache: key file %s: %w", path, err)
	}
	recs := make([]KeyRecord, 0, len(f.Keys))
	seen := make(map[string]bool, len(f.Keys))
	for i, r := range f.Keys {
		switch {
		case !validHash(r.Hash):
			return nil, fmt.Errorf("jwtcache: key file %s: keys[%d].hash: want a lower-case hex SHA-256", path, i)
		case seen[r.Hash]:
			return nil, fmt.Errorf("jwtcache: key file %s: keys[%d].hash: listed twice", path, i)
		case checkName("consumer", r.Consumer, true) != nil:
			return nil, fmt.Errorf("jwtcache: key file %s: keys[%d].consumer: %v", path, i, checkName("consumer", r.Consumer, true))
		case checkName("plan", r.Plan, false) != nil:
			return nil, fmt.Errorf("jwtcache: key file %s: keys[%d].plan: %v", path, i, checkName("plan", r.Plan, false))
		}
		seen[r.Hash] = true
		recs = append(recs, KeyRecord(r))
	}
	return recs, nil
}

// writeKeyFile replaces the file at path atomically with recs.
func writeKeyFile(path string, recs []KeyRecord) error {
	f := keyFile{Keys: make([]fileRecord, len(recs))}
	for i, r := range recs {
		if !r.ExpiresAt.IsZero() {
			r.ExpiresAt = r.ExpiresAt.UTC()
		}
		f.Keys[i] = fileRecord(r)
	}
	var body bytes.Buffer
	body.WriteString(keyFileHeader)
	enc := yaml.NewEncoder(&body)
	enc.SetIndent(2)
	if err := enc.Encode(&f); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, there is nothing to remove
	_, err = tmp.Write(body.Bytes())
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// Keep the mode of the file replaced: the gateway reading it may
		// run as another user than the tool writing it. The records are
		// hashes of random keys, nothing a reader could use.
		mode := fs.FileMode(0o644)
		if fi, serr := os.Stat(path); serr == nil {
			mode = fi.Mode().Perm()
		}
		err = os.Chmod(tmp.Name(), mode)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	return err
}

// lockFile takes an exclusive advisory lock on the file at path, creating
// it, and returns the function that releases it.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("jwtcache: lock %s: %w", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
