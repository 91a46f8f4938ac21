package edge

import (
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// NewLogger returns the process logger: JSON lines on stderr at level
// (debug, info, warn, error).
func NewLogger(level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("logging.level: %w", err)
	}
	enc := zapcore.NewJSONEncoder(encoderConfig())
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(os.Stderr), lvl), zap.ErrorOutput(zapcore.Lock(os.Stderr))), nil
}

// NewAccessLog returns the access logger for dest (stdout, stderr, off or
// a file path, appended to) and a function that flushes and closes it.
// "off" returns a nil logger: the request path then skips logging without
// building a field.
//
// Lines are buffered and flushed every second, or when 256 KiB are
// pending: one write(2) per request would cost more than the request.
func NewAccessLog(dest string) (*zap.Logger, func() error, error) {
	var out zapcore.WriteSyncer
	closeFile := func() error { return nil }
	switch dest {
	case "off", "":
		return nil, closeFile, nil
	case "stdout":
		out = os.Stdout
	case "stderr":
		out = os.Stderr
	default:
		f, err := os.OpenFile(dest, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("logging.access_log: %w", err)
		}
		out, closeFile = f, f.Close
	}
	buffered := &zapcore.BufferedWriteSyncer{WS: out, Size: 256 << 10, FlushInterval: time.Second}
	core := zapcore.NewCore(zapcore.NewJSONEncoder(encoderConfig()), buffered, zapcore.InfoLevel)
	stop := func() error {
		err := buffered.Stop()
		if cerr := closeFile(); err == nil {
			err = cerr
		}
		return err
	}
	return zap.New(core), stop, nil
}

func encoderConfig() zapcore.EncoderConfig {
	c := zap.NewProductionEncoderConfig()
	c.TimeKey = "time"
	c.EncodeTime = zapcore.RFC3339NanoTimeEncoder
	c.EncodeDuration = zapcore.SecondsDurationEncoder
	return c
}
