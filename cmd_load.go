package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
)

// defaultLoadBatch is how many lines import and put - commit at a time.
// Each batch is one append and one fsync, so a larger batch loads faster;
// and it is one exclusive hold of the readers' lock while it is published,
// so a smaller one keeps readers waiting less (BenchmarkBatchPublish in
// kv_test measures that wait).
const defaultLoadBatch = 10_000

// batchFlag defines --batch, for the verbs that load many lines.
func batchFlag(fs *flag.FlagSet) *int {
	return fs.Int("batch", defaultLoadBatch, fmt.Sprintf("commit `N` lines at a time, atomically (1 to %d)", kv.MaxBatchOps))
}

// checkBatchFlag checks the value of --batch.
func checkBatchFlag(n int) error {
	if n < 1 || n > kv.MaxBatchOps {
		return fmt.Errorf("--batch %d: out of range (1 to %d)", n, kv.MaxBatchOps)
	}
	return nil
}

// lineParser decodes one line of bulk input, its newline included, into a
// key, a value and the time the key expires, the zero time for none. Key
// and value may alias line, or buffers the parser reuses, until its next
// call: the batch copies them. A line that is blank in the parser's format
// gives errBlankLine.
type lineParser func(line []byte) (key, value []byte, expires time.Time, err error)

// loadBatch is a batch of lines ready to commit, or the reason the lines
// stopped.
type loadBatch struct {
	b           *kv.Batch
	first, last int   // line numbers it holds
	err         error // set on the last value sent: why reading stopped early
}

// loadLines stores the pairs the lines of r hold, as parse decodes them,
// in atomic batches of at most size lines, and returns how many keys the
// committed batches stored. Blank lines (errBlankLine) are skipped. A key expires when its
// line says (Batch.PutExpiresAt); with ttl positive, a key whose line gives
// no expiry expires ttl after its line is read (Batch.PutTTL).
//
// Reading and decoding run in a goroutine of their own, one batch ahead
// of the writer, so that the next batch is ready when the fsync of the one
// before returns. A line that does not decode stops the load: the batches
// before its own are written, nothing of its own; the error names it.
//
// progress, if not nil, is called after each committed batch with the keys
// stored so far and the number of the last line read.
func loadLines(db *kv.DB, r io.Reader, size int, ttl time.Duration, parse lineParser, progress func(stored, line int)) (int, error) {
	// Two batches: one being filled while the other is written.
	free := make(chan *kv.Batch, 2)
	free <- db.NewBatch()
	free <- db.NewBatch()
	full := make(chan loadBatch, 1)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(full)
		readBatches(r, size, ttl, parse, free, full, stop)
	}()
	stored, err := writeBatches(db, full, free, progress)
	close(stop)
	<-done
	return stored, err
}

// writeBatches writes the batches readBatches sends, in order, and hands
// each back once written.
func writeBatches(db *kv.DB, full <-chan loadBatch, free chan<- *kv.Batch, progress func(stored, line int)) (int, error) {
	stored := 0
	for lb := range full {
		if lb.err != nil {
			return stored, lb.err
		}
		if err := db.Write(lb.b); err != nil {
			return stored, fmt.Errorf("lines %d to %d: %w", lb.first, lb.last, err)
		}
		stored += lb.b.Len()
		if progress != nil {
			progress(stored, lb.last)
		}
		lb.b.Reset()
		free <- lb.b
	}
	return stored, nil
}

// readBatches reads and decodes the lines of r into the batches it takes
// from free, and sends each on full once it holds size lines, or as many
// as kv.MaxBatchBytes allows, and the last one at the end of r. Its last
// send carries the error that stopped it early, if one did. It returns
// when r ends or stop is closed. ttl is as for loadLines.
func readBatches(r io.Reader, size int, ttl time.Duration, parse lineParser, free <-chan *kv.Batch, full chan<- loadBatch, stop <-chan struct{}) {
	send := func(lb loadBatch) bool {
		select {
		case full <- lb:
			return true
		case <-stop:
			return false
		}
	}
	var cur loadBatch
	take := func(line int) bool {
		select {
		case cur.b = <-free:
			cur.first = line
			return true
		case <-stop:
			return false
		}
	}
	br := bufio.NewReaderSize(r, 1<<20)
	if !take(1) {
		return
	}
	line := 0
	for {
		line++
		text, err := readLine(br)
		if len(text) == 0 && err == io.EOF {
			break
		}
		if errors.Is(err, errLineTooLong) {
			send(loadBatch{err: fmt.Errorf("line %d: %w", line, err)})
			return
		}
		if err != nil && err != io.EOF {
			send(loadBatch{err: fmt.Errorf("read line %d: %w", line, err)})
			return
		}
		key, value, expires, err := parseChecked(parse, text)
		if errors.Is(err, errBlankLine) {
			continue
		}
		if err != nil {
			send(loadBatch{err: fmt.Errorf("line %d: %w", line, err)})
			return
		}
		// An upper bound of what the operation adds: a codec only
		// ever shrinks a value, and an expiry takes ExpirySize bytes.
		grow := walfmt.RecordSize(len(key), len(value))
		if !expires.IsZero() || ttl > 0 {
			grow += walfmt.ExpirySize
		}
		if cur.b.Len() > 0 && cur.b.Size()+grow > kv.MaxBatchBytes {
			if !send(cur) || !take(line) {
				return
			}
		}
		switch {
		case !expires.IsZero():
			cur.b.PutExpiresAt(key, value, expires)
		case ttl > 0:
			cur.b.PutTTL(key, value, ttl)
		default:
			cur.b.Put(key, value)
		}
		if err := cur.b.Err(); err != nil {
			send(loadBatch{err: fmt.Errorf("line %d: %w", line, err)})
			return
		}
		cur.last = line
		// A full batch goes at once: a bad line after it is not its own.
		if cur.b.Len() == size {
			if !send(cur) || !take(line+1) {
				return
			}
		}
	}
	if cur.b.Len() > 0 {
		send(cur)
	}
}

// maxLineBytes bounds a line of bulk input: the longest key and value
// the store takes, every byte of them written as a six-byte JSON escape
// (\u0001), and room for the rest of the line. A line longer than that
// holds no pair the store could take; reading it whole would take memory
// without bound (`import /dev/zero`). A variable for tests.
var maxLineBytes = 6*(kv.DefaultMaxKeySize+kv.DefaultMaxValueSize) + 4<<10

// errLineTooLong is readLine's error for a line over maxLineBytes.
var errLineTooLong = errors.New("longer than any line of a key and value the store takes")

// readLine returns the next line of br, its newline included. Unlike
// ReadBytes it returns a slice of br's buffer when the line fits in it,
// valid until the next read, so that a line costs no allocation. A line
// longer than maxLineBytes is an error, errLineTooLong.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		return line, err
	}
	long := append([]byte(nil), line...)
	for errors.Is(err, bufio.ErrBufferFull) {
		if len(long) > maxLineBytes {
			return nil, fmt.Errorf("%w (%d bytes, with no end of line yet)", errLineTooLong, maxLineBytes)
		}
		line, err = br.ReadSlice('\n')
		long = append(long, line...)
	}
	if len(long) > maxLineBytes {
		return nil, fmt.Errorf("%w (%d bytes)", errLineTooLong, maxLineBytes)
	}
	return long, err
}

// errBlankLine is a lineParser's answer for a line that is blank in its
// format, which a load skips.
var errBlankLine = errors.New("blank line")

// parseChecked decodes text with parse and checks that the store can hold
// the pair, with the messages the single-key verbs give.
func parseChecked(parse lineParser, text []byte) (key, value []byte, expires time.Time, err error) {
	key, value, expires, err = parse(text)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	if err := checkKey(key); err != nil {
		return nil, nil, time.Time{}, err
	}
	if len(value) > kv.DefaultMaxValueSize {
		return nil, nil, time.Time{}, sentence(kv.ErrValueTooLarge, "the value is %d bytes, over the limit of %d", len(value), kv.DefaultMaxValueSize)
	}
	return key, value, expires, nil
}

// loadMeter shows a bulk load's progress on a terminal: one line, redrawn
// in place at most ten times a second, with the keys stored, the last line
// read and the rate. Elsewhere it shows nothing: the summary line that
// follows is what a log or a script wants.
type loadMeter struct {
	w       io.Writer
	start   time.Time
	last    time.Time
	drawn   bool
	now     func() time.Time
	minStep time.Duration
}

func newLoadMeter(w io.Writer, tty bool) *loadMeter {
	if !tty {
		return nil
	}
	now := time.Now()
	return &loadMeter{w: w, start: now, now: time.Now, minStep: 100 * time.Millisecond}
}

// show is a progress function for loadLines.
func (m *loadMeter) show(stored, line int) {
	t := m.now()
	if m.drawn && t.Sub(m.last) < m.minStep {
		return
	}
	m.last, m.drawn = t, true
	rate := ""
	if d := t.Sub(m.start).Seconds(); d > 0 {
		rate = fmt.Sprintf(", %.0f keys/s", float64(stored)/d)
	}
	// Progress is a courtesy: the load goes on if it cannot be shown.
	_, _ = fmt.Fprintf(m.w, "\rstored %d keys, line %d%s\x1b[K", stored, line, rate)
}

// progress returns m.show, or nil for no meter.
func (m *loadMeter) progress() func(stored, line int) {
	if m == nil {
		return nil
	}
	return m.show
}

// clear removes the meter's line so the summary starts on a clean one.
func (m *loadMeter) clear() {
	if m != nil && m.drawn {
		_, _ = io.WriteString(m.w, "\r\x1b[K") // best effort, like show
	}
}
