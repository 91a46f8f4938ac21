package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"strconv"
)

// Chart geometry, in pixels.
const (
	width, height = 960, 540
	left, right   = 90, 190 // the legend lives in the right margin
	top, bottom   = 64, 60
	textScale     = 2 // the 5x7 font drawn at twice its size
)

var (
	black = color.RGBA{0, 0, 0, 255}
	grid  = color.RGBA{225, 225, 225, 255}
	// palette is colour-blind safe (Okabe-Ito); the usual targets keep
	// their colour from chart to chart.
	palette = []color.RGBA{{0, 114, 178, 255}, {0, 158, 115, 255}, {213, 94, 0, 255}, {204, 121, 167, 255}, {86, 180, 233, 255}}
	named   = map[string]int{"gateway": 0, "nginx": 1, "haproxy": 2}
)

// series is one attack ready to draw: latencies in milliseconds, send
// times in seconds since its first request.
type series struct {
	Name  string
	Color color.RGBA
	AtS   []float64
	Ms    []float64
}

func newSeries(name string, rs []result) series {
	s := series{Name: name, AtS: make([]float64, len(rs)), Ms: make([]float64, len(rs))}
	i, ok := named[name]
	if !ok {
		i = len(named) + len(name)%(len(palette)-len(named))
	}
	s.Color = palette[i%len(palette)]
	first := rs[0].SentNs
	for _, r := range rs {
		first = min(first, r.SentNs)
	}
	for i, r := range rs {
		s.AtS[i] = float64(r.SentNs-first) / 1e9
		s.Ms[i] = math.Max(float64(r.LatencyNs)/1e6, 1e-3)
	}
	return s
}

// canvas is an RGBA image with the plot area's scales.
type canvas struct {
	img                   *image.RGBA
	x0, x1, y0, y1        float64 // data range
	logX, logY            bool
	plotW, plotH          int
	title, xLabel, yLabel string
	xTicks, yTicks        []float64
	xTickFmt, yTickFmt    func(float64) string
	legend                []series
}

func newCanvas() *canvas {
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	return &canvas{img: img, plotW: width - left - right, plotH: height - top - bottom}
}

func (c *canvas) px(x float64) float64 {
	if c.logX {
		x, c0, c1 := math.Log10(x), math.Log10(c.x0), math.Log10(c.x1)
		return left + (x-c0)/(c1-c0)*float64(c.plotW)
	}
	return left + (x-c.x0)/(c.x1-c.x0)*float64(c.plotW)
}

func (c *canvas) py(y float64) float64 {
	if c.logY {
		y, c0, c1 := math.Log10(y), math.Log10(c.y0), math.Log10(c.y1)
		return top + float64(c.plotH) - (y-c0)/(c1-c0)*float64(c.plotH)
	}
	return top + float64(c.plotH) - (y-c.y0)/(c.y1-c.y0)*float64(c.plotH)
}

// blend paints col over the pixel at (x, y) with opacity a.
func (c *canvas) blend(x, y int, col color.RGBA, a float64) {
	if !image.Pt(x, y).In(c.img.Rect) {
		return
	}
	i := c.img.PixOffset(x, y)
	p := c.img.Pix[i : i+3 : i+3]
	p[0] = uint8(float64(p[0])*(1-a) + float64(col.R)*a)
	p[1] = uint8(float64(p[1])*(1-a) + float64(col.G)*a)
	p[2] = uint8(float64(p[2])*(1-a) + float64(col.B)*a)
}

func (c *canvas) rect(x0, y0, x1, y1 int, col color.RGBA) {
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			c.blend(x, y, col, 1)
		}
	}
}

// line draws a line of the given width by stepping along it.
func (c *canvas) line(x0, y0, x1, y1 float64, col color.RGBA, w int) {
	n := int(math.Max(math.Abs(x1-x0), math.Abs(y1-y0))) + 1
	for i := 0; i <= n; i++ {
		t := float64(i) / float64(n)
		x, y := int(math.Round(x0+(x1-x0)*t)), int(math.Round(y0+(y1-y0)*t))
		c.rect(x-w/2, y-w/2, x-w/2+w-1, y-w/2+w-1, col)
	}
}

// frame draws the title, grid, ticks, axis labels and legend.
func (c *canvas) frame() {
	for _, t := range c.yTicks {
		y := c.py(t)
		c.line(left, y, float64(left+c.plotW), y, grid, 1)
		s := c.yTickFmt(t)
		text(c.img, left-8-textWidth(s), int(y)-textScale*3, s, black)
	}
	for _, t := range c.xTicks {
		x := c.px(t)
		c.line(x, top, x, float64(top+c.plotH), grid, 1)
		s := c.xTickFmt(t)
		text(c.img, int(x)-textWidth(s)/2, top+c.plotH+10, s, black)
	}
	c.line(left, top, left, float64(top+c.plotH), black, 1)
	c.line(left, float64(top+c.plotH), float64(left+c.plotW), float64(top+c.plotH), black, 1)
	text(c.img, (width-textWidth(c.title))/2, 16, c.title, black)
	text(c.img, left+(c.plotW-textWidth(c.xLabel))/2, height-24, c.xLabel, black)
	text(c.img, 8, top-26, c.yLabel, black)
	for i, s := range c.legend {
		y := top + 10 + i*28
		c.rect(left+c.plotW+20, y, left+c.plotW+40, y+14, s.Color)
		text(c.img, left+c.plotW+48, y, s.Name, black)
	}
}

// latencyOverTime plots every request as a dot: x when it was sent, y its
// latency. Dots are translucent, so dense bands read darker.
func latencyOverTime(title string, ss []series) *image.RGBA {
	c := newCanvas()
	c.title, c.xLabel, c.yLabel = title, "time (s)", "latency (ms)"
	c.logY = true
	var maxT float64
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for i := range s.Ms {
			maxT = math.Max(maxT, s.AtS[i])
			lo, hi = math.Min(lo, s.Ms[i]), math.Max(hi, s.Ms[i])
		}
	}
	c.x0, c.x1 = 0, math.Max(maxT, 1)
	c.y0, c.y1 = decades(lo, hi)
	c.xTicks, c.xTickFmt = linearTicks(c.x1), trim
	c.yTicks, c.yTickFmt = decadeTicks(c.y0, c.y1), trim
	c.legend = ss
	c.frame()
	for _, s := range ss {
		for i := range s.Ms {
			x, y := int(c.px(s.AtS[i])), int(c.py(s.Ms[i]))
			c.blend(x, y, s.Color, 0.35)
			c.blend(x+1, y, s.Color, 0.35)
		}
	}
	return c.img
}

// histogram plots the share of each series' requests per latency bucket,
// twenty buckets per decade, as lines.
func histogram(title string, ss []series) *image.RGBA {
	const perDecade = 20
	c := newCanvas()
	c.title, c.xLabel, c.yLabel = title, "latency (ms)", "% of requests"
	c.logX = true
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for _, v := range s.Ms {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	c.x0, c.x1 = decades(lo, hi)
	n := int(math.Round(math.Log10(c.x1/c.x0))) * perDecade
	shares := make([][]float64, len(ss))
	var peak float64
	for k, s := range ss {
		counts := make([]float64, n)
		for _, v := range s.Ms {
			b := int(math.Log10(v/c.x0) * perDecade)
			counts[max(0, min(b, n-1))]++
		}
		for i := range counts {
			counts[i] = counts[i] / float64(len(s.Ms)) * 100
			peak = math.Max(peak, counts[i])
		}
		shares[k] = counts
	}
	c.y0, c.y1 = 0, niceCeil(peak)
	c.xTicks, c.xTickFmt = decadeTicks(c.x0, c.x1), trim
	c.yTicks, c.yTickFmt = linearTicks(c.y1), trim
	c.legend = ss
	c.frame()
	mid := func(i int) float64 { return c.x0 * math.Pow(10, (float64(i)+0.5)/perDecade) }
	for k, s := range ss {
		for i := 1; i < n; i++ {
			c.line(c.px(mid(i-1)), c.py(shares[k][i-1]), c.px(mid(i)), c.py(shares[k][i]), s.Color, 2)
		}
	}
	return c.img
}

// decades widens [lo, hi] to whole powers of ten, at least one decade.
func decades(lo, hi float64) (float64, float64) {
	a := math.Pow(10, math.Floor(math.Log10(lo)))
	b := math.Pow(10, math.Ceil(math.Log10(hi)))
	if b <= a {
		b = a * 10
	}
	return a, b
}

func decadeTicks(lo, hi float64) []float64 {
	var ts []float64
	for t := lo; t <= hi*1.0001; t *= 10 {
		ts = append(ts, t)
	}
	return ts
}

// linearTicks returns about five round ticks from 0 to max.
func linearTicks(maxV float64) []float64 {
	step := niceCeil(maxV / 5)
	var ts []float64
	for t := 0.0; t <= maxV*1.0001; t += step {
		ts = append(ts, t)
	}
	return ts
}

// niceCeil rounds x up to 1, 2 or 5 times a power of ten.
func niceCeil(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x*0.9999 {
			return m * p
		}
	}
	return 10 * p
}

func trim(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

func writePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}
