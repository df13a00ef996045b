package qcow2

import "fmt"

// ClusterKind says how a range of the virtual disk is stored.
type ClusterKind uint8

// Cluster kinds. A range of an extended L2 cluster gets the kind of its
// subclusters.
const (
	Unallocated   ClusterKind = iota // not in this layer: read from the backing file, else zeros
	Zero                             // reads as zeros, no host cluster
	ZeroAllocated                    // reads as zeros, a host cluster is preallocated
	Normal                           // stored as is at FileOffset
	Compressed                       // stored compressed at FileOffset
	Invalid                          // an entry the format forbids
)

// ClusterKinds lists the kinds in report order.
var ClusterKinds = []ClusterKind{Unallocated, Zero, ZeroAllocated, Normal, Compressed, Invalid}

var clusterKindNames = [...]string{"unallocated", "zero", "zero_allocated", "normal", "compressed", "invalid"}

// String returns the kind's name as used in reports, e.g. "zero_allocated".
func (k ClusterKind) String() string {
	if int(k) < len(clusterKindNames) {
		return clusterKindNames[k]
	}
	return fmt.Sprintf("kind %d", uint8(k))
}

// MarshalText encodes the kind as its name.
func (k ClusterKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// clusterKind classifies an L2 entry as a whole, the way QEMU does.
func (img *Image) clusterKind(e l2Entry) ClusterKind {
	off := e.raw & tableOffsetMask
	switch {
	case e.raw&flagCompressed != 0:
		return Compressed
	case e.raw&flagZero != 0 && !img.Header.ExtendedL2():
		if off != 0 {
			return ZeroAllocated
		}
		return Zero
	case off == 0:
		// Offset 0 is a real cluster of an external data file, told apart
		// by the copied flag every data file cluster has.
		if img.Header.ExternalData() && e.raw&flagCopied != 0 {
			return Normal
		}
		return Unallocated
	}
	return Normal
}

// subclusterKind classifies subcluster i of an extended L2 entry whose
// cluster kind is k.
func subclusterKind(k ClusterKind, bitmap uint64, i uint) ClusterKind {
	alloc, zero := bitmap>>i&1 != 0, bitmap>>(32+i)&1 != 0
	switch {
	case k == Compressed:
		return Compressed
	case bitmap>>32&bitmap != 0:
		return Invalid
	case k == Normal && alloc:
		return Normal
	case k == Normal && zero:
		return ZeroAllocated
	case k == Normal:
		return Unallocated
	case alloc:
		return Invalid
	case zero:
		return Zero
	}
	return Unallocated
}

// compressedDescriptor decodes a compressed cluster descriptor: the host
// byte offset of the data and its stored length, which may run past the
// end of the stream.
func (img *Image) compressedDescriptor(raw uint64) (off, length int64) {
	x := 62 - (img.Header.ClusterBits - 8)
	off = int64(raw & (1<<x - 1))
	sectors := int64(raw>>x&(1<<(img.Header.ClusterBits-8)-1)) + 1
	return off, sectors*512 - off&511
}

// decodeL2 decodes an entry for L2.
func (img *Image) decodeL2(e l2Entry) L2Entry {
	d := L2Entry{Raw: e.raw, Bitmap: e.bitmap, Kind: img.clusterKind(e), Copied: e.raw&flagCopied != 0}
	if d.Kind == Compressed {
		d.HostOffset, d.CompressedLength = img.compressedDescriptor(e.raw)
	} else {
		d.HostOffset = int64(e.raw & tableOffsetMask)
	}
	return d
}
