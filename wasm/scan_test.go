//go:build js && wasm

package main

import (
	"bytes"
	"slices"
	"syscall/js"
	"testing"

	"github.com/vhdx-inspector/vhdx-inspector/internal/vhdxbuild"
	"github.com/vhdx-inspector/vhdx-inspector/vhdx"
)

// TestBlockSummaryMatchesBAT compares histograms of the block summary over
// ranges and bucket counts that do not align with its groups against the
// states the BAT itself gives, block by block; then the cache encoding.
func TestBlockSummaryMatchesBAT(t *testing.T) {
	const blocks = 1000
	im := vhdxbuild.New(vhdxbuild.Options{VirtualSize: blocks << 20})
	states := []uint8{vhdxbuild.PayloadZero, vhdxbuild.PayloadUnmapped, vhdxbuild.PayloadUndefined}
	for n := 0; n < blocks; n++ {
		switch {
		case n >= 300 && n < 700: // long uniform stretch
		case n%7 == 0:
			im.SetBlock(n, vhdxbuild.PayloadFullyPresent, []byte{byte(n)})
		case n%3 == 0:
			im.SetBlock(n, states[n%len(states)], nil)
		}
	}
	b := im.Bytes()
	img, err := vhdx.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, blocks)
	for n := range want {
		e, err := img.BAT.Block(uint64(n))
		if err != nil {
			t.Fatal(err)
		}
		want[n] = byte(e.State)
	}
	sum := newBlockSummary(img.BAT)
	if err := sum.scan(newTask(js.Undefined(), img.BAT.Length), func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ first, count, buckets uint64 }{{0, blocks, 1}, {0, blocks, 7}, {0, blocks, blocks}, {13, 901, 10}, {299, 402, 3}, {999, 1, 1}} {
		got := sum.histogram(c.first, c.count, c.buckets)
		exp := make([]uint32, c.buckets*8)
		for i := c.first; i < c.first+c.count; i++ {
			exp[(i-c.first)*c.buckets/c.count*8+uint64(want[i])]++
		}
		if !slices.Equal(got, exp) {
			t.Errorf("histogram(%d, %d, %d) = %v, want %v", c.first, c.count, c.buckets, got, exp)
		}
	}
	again := newBlockSummary(img.BAT)
	if err := again.decode(sum.encode()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.states, want) {
		t.Error("decoded states differ from the BAT")
	}
	if err := again.decode(sum.encode()[:20]); err == nil {
		t.Error("a cut encoding decoded without error")
	}
}
