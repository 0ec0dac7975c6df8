package report

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	"github.com/crabkv/crabkv/bench/internal/stats"
	"github.com/crabkv/crabkv/bench/internal/workload"
)

// Chart layout, in pixels.
const (
	chartWidth  = 1600
	chartCols   = 2
	margin      = 24
	headerH     = 118
	panelTitleH = 30
	barH        = 20
	barGap      = 7
	panelPad    = 22
	labelW      = 80  // engine name column
	valueW      = 190 // value text to the right of the longest bar
)

var (
	white     = color.RGBA{0xff, 0xff, 0xff, 0xff}
	ink       = color.RGBA{0x22, 0x22, 0x22, 0xff}
	faint     = color.RGBA{0x77, 0x77, 0x77, 0xff}
	gridColor = color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	panelBG   = color.RGBA{0xf7, 0xf7, 0xf7, 0xff}
	// engineColors keeps each engine's colour fixed across runs.
	engineColors = map[string]color.RGBA{
		"crabkv":  {0xe4, 0x57, 0x2e, 0xff},
		"bbolt":   {0x4c, 0x72, 0xb0, 0xff},
		"badger":  {0x55, 0xa8, 0x68, 0xff},
		"pebble":  {0x81, 0x72, 0xb2, 0xff},
		"leveldb": {0x93, 0x78, 0x60, 0xff},
	}
	otherColor = color.RGBA{0x99, 0x99, 0x99, 0xff}
)

type faces struct {
	title, bold, regular, small font.Face
}

func loadFaces() (faces, error) {
	reg, err := opentype.Parse(goregular.TTF)
	if err != nil {
		return faces{}, err
	}
	bold, err := opentype.Parse(gobold.TTF)
	if err != nil {
		return faces{}, err
	}
	face := func(f *opentype.Font, size float64) (font.Face, error) {
		return opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	}
	var fs faces
	for _, x := range []struct {
		dst  *font.Face
		f    *opentype.Font
		size float64
	}{{&fs.title, bold, 24}, {&fs.bold, bold, 16}, {&fs.regular, reg, 15}, {&fs.small, reg, 14}} {
		if *x.dst, err = face(x.f, x.size); err != nil {
			return faces{}, err
		}
	}
	return fs, nil
}

// WritePNG draws one panel per row: a horizontal bar per engine, its length
// the engine's score (best engine = 1.0, whether the unit is ops/s or a
// cost), labelled with the real value and the score.
func WritePNG(w io.Writer, rep *Report) error {
	fs, err := loadFaces()
	if err != nil {
		return err
	}
	engines := rep.engineOrder()
	panelW := (chartWidth - margin*(chartCols+1)) / chartCols
	panelH := panelTitleH + len(engines)*(barH+barGap) + panelPad
	nrows := (len(rep.Rows) + chartCols - 1) / chartCols
	height := headerH + nrows*(panelH+margin) + margin
	img := image.NewRGBA(image.Rect(0, 0, chartWidth, height))
	draw.Draw(img, img.Bounds(), image.NewUniform(white), image.Point{}, draw.Src)

	text(img, fs.title, ink, margin, 34, rep.Title)
	text(img, fs.small, faint, margin, 58, rep.Machine.Summary())
	sub := fmt.Sprintf("Median of %d trials, each in a fresh process. ops/s panels: longest bar wins, labels give value (score, best engine = 1.00). ms and MiB panels: shortest bar wins.", rep.Trials)
	if rep.Probe != nil {
		sub += fmt.Sprintf("  Raw disk fdatasync: %s.", Short(rep.Probe.Median[DiskEngine], rep.Probe.Unit))
	}
	text(img, fs.small, faint, margin, 78, sub)
	legend(img, fs, engines, margin, 104)

	for i, row := range rep.Rows {
		x := margin + (i%chartCols)*(panelW+margin)
		y := headerH + (i/chartCols)*(panelH+margin)
		drawPanel(img, fs, row, engines, rep, image.Rect(x, y, x+panelW, y+panelH))
	}
	return png.Encode(w, img)
}

func legend(img *image.RGBA, fs faces, engines []string, x, y int) {
	for _, e := range engines {
		fill(img, image.Rect(x, y-12, x+14, y+2), colorOf(e))
		x += 20
		x += text(img, fs.regular, ink, x, y, e) + 26
	}
}

func drawPanel(img *image.RGBA, fs faces, row Row, engines []string, rep *Report, r image.Rectangle) {
	fill(img, r, panelBG)
	title := fmt.Sprintf("%s  (%s)", row.ID, UnitLabel(row.Unit))
	if !row.Unit.HigherBetter() {
		title = fmt.Sprintf("%s  (%s: shortest bar wins)", row.ID, UnitLabel(row.Unit))
	}
	text(img, fs.bold, ink, r.Min.X+10, r.Min.Y+21, title)
	if row.Sync && row.Unit == workload.OpsPerSec && rep.Probe != nil {
		// Put the disk's own limit next to the sync workloads it bounds.
		note := "disk: " + Short(rep.Probe.Median[DiskEngine], rep.Probe.Unit)
		text(img, fs.small, faint, r.Max.X-10-measure(fs.small, note), r.Min.Y+21, note)
	}
	x0 := r.Min.X + 10 + labelW
	maxW := r.Max.X - 10 - valueW - x0
	top := r.Min.Y + panelTitleH
	bottom := top + len(engines)*(barH+barGap)
	for _, f := range []float64{0.25, 0.5, 0.75, 1} {
		gx := x0 + int(f*float64(maxW))
		fill(img, image.Rect(gx, top-2, gx+1, bottom-barGap+2), gridColor)
	}
	for j, e := range engines {
		y := top + j*(barH+barGap)
		face := fs.regular
		if e == rep.Baseline {
			face = fs.bold
		}
		text(img, face, ink, r.Min.X+10, y+barH-5, e)
		length, label, ok := barOf(row, e)
		if !ok {
			msg := "not measured"
			if _, failed := row.Errors[e]; failed {
				msg = "error (see results.md)"
			}
			text(img, fs.small, faint, x0+4, y+barH-5, msg)
			continue
		}
		bw := max(int(length*float64(maxW)), 2)
		fill(img, image.Rect(x0, y, x0+bw, y+barH), colorOf(e))
		text(img, fs.small, ink, x0+bw+6, y+barH-5, label)
	}
}

// barOf returns the bar length in [0, 1] and the label for engine's median.
// Throughput bars are the score (best engine = 1.00, longest wins). Cost
// bars (ms, bytes) are the value over the row's largest value, so the
// shortest wins and engines that differ stay distinguishable even when the
// best is near zero; their label gives the multiple of the best value.
func barOf(row Row, engine string) (length float64, label string, ok bool) {
	v, ok := row.Median[engine]
	if !ok || math.IsNaN(v) {
		return 0, "", false
	}
	value := Short(v, row.Unit)
	if row.Unit.HigherBetter() {
		s := row.Score(engine)
		return s, fmt.Sprintf("%s  (%.2f)", value, s), true
	}
	_, worst, _ := stats.Best(row.Median, true)
	_, best, _ := stats.Best(row.Median, false)
	length = stats.Ratio(max(v, 0), worst)
	if math.IsNaN(length) {
		length = 0
	}
	switch m := stats.Ratio(v, best); {
	case v == best:
		return length, value + "  (best)", true
	case math.IsNaN(m) || m > 1000 || best <= 0:
		return length, value, true
	default:
		return length, fmt.Sprintf("%s  (%.2fx best)", value, m), true
	}
}

func colorOf(engine string) color.RGBA {
	if c, ok := engineColors[engine]; ok {
		return c
	}
	return otherColor
}

func fill(img *image.RGBA, r image.Rectangle, c color.Color) {
	draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
}

// text draws s with its baseline at (x, y) and returns its width.
func text(img *image.RGBA, face font.Face, c color.Color, x, y int, s string) int {
	d := &font.Drawer{Dst: img, Src: image.NewUniform(c), Face: face, Dot: fixed.P(x, y)}
	d.DrawString(s)
	return (d.Dot.X - fixed.I(x)).Round()
}

func measure(face font.Face, s string) int {
	return font.MeasureString(face, s).Round()
}
