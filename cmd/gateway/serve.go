package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/edgegate/gateway/edge"
)

// configPollInterval is how often the config file is checked for changes.
// Polling a stat is cheap and, unlike inotify, survives editors and
// deployment tools that replace the file by renaming over it.
const configPollInterval = time.Second

func runServe(args []string) int {
	s, err := parseFlags("gateway", args, os.Stderr)
	if err != nil {
		return 2
	}
	cfg, err := s.load()
	if err != nil {
		printProblems(os.Stderr, s.config, err)
		return 1
	}
	log, err := edge.NewLogger(cfg.Logging.Level)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer log.Sync()
	access, closeAccess, err := edge.NewAccessLog(cfg.Logging.AccessLog)
	if err != nil {
		log.Error("cannot open the access log", zap.Error(err))
		return 1
	}
	defer closeAccess()

	gw, err := edge.New(cfg, edge.Options{Log: log, AccessLog: access})
	if err != nil {
		printProblems(os.Stderr, s.config, err)
		return 1
	}
	if err := gw.Start(); err != nil {
		log.Error("cannot start", zap.Error(err))
		return 1
	}

	reload := func(why string) {
		next, err := s.load()
		if err == nil {
			err = gw.Reload(next)
		}
		if err != nil {
			log.Error("reload failed; the previous configuration keeps serving",
				zap.String("trigger", why), zap.String("config", s.config), zap.Error(err))
			return
		}
		log.Info("configuration reloaded", zap.String("trigger", why), zap.String("config", s.config))
	}

	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	w := newFileWatcher(s.config)
	tick := time.NewTicker(configPollInterval)
	defer tick.Stop()
	for {
		select {
		case sig := <-signals:
			if sig == syscall.SIGHUP {
				reload("SIGHUP")
				w.changed() // the reload has read the current content
				continue
			}
			log.Info("shutting down: draining in-flight requests", zap.Stringer("signal", sig),
				zap.Duration("timeout", cfg.Server.ShutdownTimeout.D()))
			ctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout.D())
			err := gw.Shutdown(ctx)
			cancel()
			if err != nil {
				log.Warn("shutdown did not finish cleanly", zap.Error(err))
			}
			log.Info("stopped")
			return 0
		case <-tick.C:
			if w.changed() {
				reload("file changed")
			}
		}
	}
}

// fileWatcher notices a change of a file's content. It compares a hash,
// not just the modification time, so a touch without an edit, or an edit
// within the same second, is judged by what the file holds.
type fileWatcher struct {
	path    string
	modTime time.Time
	size    int64
	sum     [sha256.Size]byte
}

func newFileWatcher(path string) *fileWatcher {
	w := &fileWatcher{path: path}
	w.changed()
	return w
}

// changed reports whether the content differs from the last call's.
func (w *fileWatcher) changed() bool {
	fi, err := os.Stat(w.path)
	if err != nil {
		return false // a file being replaced may be missing for a moment
	}
	if fi.ModTime().Equal(w.modTime) && fi.Size() == w.size {
		return false
	}
	data, err := os.ReadFile(w.path)
	if err != nil {
		return false
	}
	w.modTime, w.size = fi.ModTime(), fi.Size()
	sum := sha256.Sum256(data)
	if bytes.Equal(sum[:], w.sum[:]) {
		return false
	}
	first := w.sum == [sha256.Size]byte{}
	w.sum = sum
	return !first
}
