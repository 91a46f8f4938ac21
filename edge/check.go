package edge

import (
	"go.uber.org/zap"

	"github.com/edgegate/gateway/edge/config"
	"github.com/edgegate/gateway/edge/metrics"
)

// Check compiles cfg exactly as serving would, without binding a port or
// connecting anywhere, and returns every problem found.
func Check(cfg *config.Config) error {
	c, err := compile(cfg, compileOptions{log: zap.NewNop(), metrics: metrics.New(), dryRun: true})
	if err != nil {
		return err
	}
	c.close(nil)
	return nil
}
