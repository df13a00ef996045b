//go:build js && wasm

package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

const (
	// scanEntries is how many BAT entries one read of a scan covers
	// (16 MiB of table: a few dozen reads for the largest disk).
	scanEntries = 2 << 20
	// groupBlocks is the size of the block groups whose common state is
	// kept, so that histograms skip uniform stretches.
	groupBlocks = 64
	// mixedGroup marks a group whose blocks are not all in one state.
	mixedGroup = 0xff
)

// blockSummary is a compact copy of the payload block states of one
// image: a byte per block, read once from the BAT in large sequential
// slices, so that block maps at any zoom need no further reads. Blocks
// below known have been read; the rest fill in while a scan runs.
type blockSummary struct {
	bat *vhdx.BAT

	mu      sync.Mutex
	states  []byte // state of each payload block
	uniform []byte // per whole group below known: the state all share, or mixedGroup
	known   uint64
	blocks  vhdx.StateCounts // payload blocks below known, by state
	bitmaps vhdx.StateCounts // sector bitmap entries read, by state
	running bool
	done    chan struct{} // closed when the scan running ends
	err     error         // why the last scan stopped early
}

func newBlockSummary(bat *vhdx.BAT) *blockSummary {
	return &blockSummary{bat: bat}
}

// complete reports whether every block's state is known.
func (s *blockSummary) complete() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.states != nil && s.known == s.bat.BlockCount
}

// counts returns the payload and sector bitmap counts read so far.
func (s *blockSummary) counts() (blocks, bitmaps vhdx.StateCounts, known uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blocks, s.bitmaps, s.known
}

// scan reads the whole table, reporting to t; stop, checked between
// slices, ends it early with its error. Concurrent calls wait for the
// scan that runs.
func (s *blockSummary) scan(t *task, stop func() error) error {
	s.mu.Lock()
	switch {
	case s.states != nil && s.known == s.bat.BlockCount:
		s.mu.Unlock()
		return nil
	case s.running:
		done := s.done
		s.mu.Unlock()
		<-done
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.err
	}
	s.running, s.done = true, make(chan struct{})
	if s.states == nil {
		s.states = make([]byte, s.bat.BlockCount)
	}
	// A scan stopped early starts again from the first entry.
	s.uniform = make([]byte, 0, (s.bat.BlockCount+groupBlocks-1)/groupBlocks)
	s.known, s.blocks, s.bitmaps = 0, vhdx.StateCounts{}, vhdx.StateCounts{}
	s.mu.Unlock()
	err := s.read(t, stop)
	s.mu.Lock()
	s.running, s.err = false, err
	close(s.done)
	s.mu.Unlock()
	return err
}

// read decodes the whole table into s.
func (s *blockSummary) read(t *task, stop func() error) error {
	b := s.bat
	period := b.ChunkRatio + 1
	first, block := uint64(0), uint64(0)
	buf := make([]byte, 8*min(scanEntries, b.EntryCount))
	for first < b.EntryCount {
		p := buf[:8*min(scanEntries, b.EntryCount-first)]
		if err := b.ReadEntries(first, p); err != nil {
			return err
		}
		s.mu.Lock()
		pos := first % period
		for j := 0; j < len(p); j += 8 {
			st := p[j] & 7
			switch {
			case pos == b.ChunkRatio:
				s.bitmaps[st]++
				pos = 0
				continue
			case block < b.BlockCount:
				s.states[block] = st
				s.blocks[st]++
				block++
			}
			pos++
		}
		s.known = block
		s.group()
		s.mu.Unlock()
		first += uint64(len(p) / 8)
		if err := t.add(int64(len(p))); err != nil {
			return err
		}
		if err := stop(); err != nil {
			return err
		}
	}
	t.report()
	return nil
}

// group computes the common state of the whole groups read since the last
// call (and of the last, shorter group once everything is known). s.mu
// must be held.
func (s *blockSummary) group() {
	for g := uint64(len(s.uniform)); ; g++ {
		lo, hi := g*groupBlocks, min((g+1)*groupBlocks, uint64(len(s.states)))
		if lo >= hi || hi > s.known {
			return
		}
		u := s.states[lo]
		for _, x := range s.states[lo+1 : hi] {
			if x != u {
				u = mixedGroup
				break
			}
		}
		s.uniform = append(s.uniform, u)
	}
}

// histogram counts the known blocks of [first, first+count) by state in
// buckets equal runs: block i goes to run floor((i-first)*buckets/count),
// and element b*8+s counts the blocks of run b in state s. Runs not yet
// read count fewer blocks than they hold.
func (s *blockSummary) histogram(first, count, buckets uint64) []uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]uint32, buckets*8)
	end := min(first+count, s.known)
	for b := uint64(0); b < buckets; b++ {
		// Run b holds the i with ceil(b*count/buckets) <= i-first < ceil((b+1)*count/buckets).
		lo := first + (b*count+buckets-1)/buckets
		hi := min(first+((b+1)*count+buckets-1)/buckets, end)
		s.countRange(lo, hi, out[b*8:b*8+8])
	}
	return out
}

// countRange adds the states of blocks [lo, hi) to c, a group at a time
// where the group is uniform. s.mu must be held.
func (s *blockSummary) countRange(lo, hi uint64, c []uint32) {
	for ; lo < hi && lo%groupBlocks != 0; lo++ {
		c[s.states[lo]]++
	}
	for ; lo+groupBlocks <= hi; lo += groupBlocks {
		if g := lo / groupBlocks; g < uint64(len(s.uniform)) && s.uniform[g] != mixedGroup {
			c[s.uniform[g]] += groupBlocks
			continue
		}
		for _, x := range s.states[lo : lo+groupBlocks] {
			c[x]++
		}
	}
	for ; lo < hi; lo++ {
		c[s.states[lo]]++
	}
}

// encode returns the states run-length encoded (a state byte, then the
// run's length as a uvarint) with the sector bitmap counts in front, for
// the cache; nil while the scan is incomplete.
func (s *blockSummary) encode() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.states == nil || s.known != s.bat.BlockCount {
		return nil
	}
	var out []byte
	for _, n := range s.bitmaps {
		out = binary.AppendUvarint(out, n)
	}
	for i := 0; i < len(s.states); {
		j := i + 1
		for j < len(s.states) && s.states[j] == s.states[i] {
			j++
		}
		out = append(out, s.states[i])
		out = binary.AppendUvarint(out, uint64(j-i))
		i = j
	}
	return out
}

// errBadSummary means a cached summary does not fit the image.
var errBadSummary = errors.New("cached block summary does not fit the image")

// decode fills s from what encode returned, checking every length against
// the image's block count.
func (s *blockSummary) decode(b []byte) error {
	var bitmaps vhdx.StateCounts
	for i := range bitmaps {
		n, k := binary.Uvarint(b)
		if k <= 0 {
			return errBadSummary
		}
		bitmaps[i], b = n, b[k:]
	}
	states := make([]byte, s.bat.BlockCount)
	var blocks vhdx.StateCounts
	at := uint64(0)
	for len(b) > 0 {
		st := b[0]
		n, k := binary.Uvarint(b[1:])
		if k <= 0 || st > 7 || n > uint64(len(states))-at {
			return fmt.Errorf("%w (run at block %d)", errBadSummary, at)
		}
		fill(states[at:at+n], st)
		blocks[st] += n
		at, b = at+n, b[1+k:]
	}
	if at != uint64(len(states)) {
		return fmt.Errorf("%w (%d of %d blocks)", errBadSummary, at, len(states))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.states, s.known, s.blocks, s.bitmaps = states, at, blocks, bitmaps
	s.uniform = make([]byte, 0, (at+groupBlocks-1)/groupBlocks)
	s.group()
	return nil
}

// fill sets every byte of p to v, doubling copies.
func fill(p []byte, v byte) {
	if len(p) == 0 || v == 0 {
		return // new slices are zero already
	}
	p[0] = v
	for n := 1; n < len(p); n *= 2 {
		copy(p[n:], p[:n])
	}
}
