package qcow2

import (
	"errors"
	"fmt"
)

// Severity grades a finding.
type Severity string

// Severities, from worst to mildest.
const (
	SeverityError   Severity = "error"   // the file breaks the specification
	SeverityWarning Severity = "warning" // suspicious, but readable
	SeverityInfo    Severity = "info"    // worth knowing
)

// Finding is one result of Check.
type Finding struct {
	Code      string   `json:"code"` // stable identifier, e.g. "refcount.leak"
	Severity  Severity `json:"severity"`
	Structure string   `json:"structure"` // e.g. "L1 entry 3", "cluster 17"
	Offset    int64    `json:"offset"`    // file offset of the bytes concerned, -1 if none
	Message   string   `json:"message"`   // one sentence for people
}

// CheckReport is the result of CheckReport: the findings and the counts
// `qemu-img check` gives for the same image.
type CheckReport struct {
	Findings []Finding `json:"findings"`
	// Leaks counts clusters whose refcount is above the references
	// found, Corruptions the problems QEMU counts as corruptions (a
	// refcount below the references, misaligned tables, bad copied
	// flags...), CheckErrors the clusters or tables that could not be
	// checked. Findings this package adds beyond QEMU's are not counted.
	Leaks       int64 `json:"leaks"`
	Corruptions int64 `json:"corruptions"`
	CheckErrors int64 `json:"check_errors"`
}

// Limits of Check: the in-memory refcount array has one 16-bit counter
// per host cluster, up to maxCheckClusters; at most maxFindingsPerCode
// findings of one code are listed (all are counted).
const (
	maxCheckClusters   = 1 << 25
	maxClustersPastEnd = 1 << 20 // references past the end of the file Check follows
	maxFindingsPerCode = 100
)

// counted says which qemu-img check counter a finding increments.
type counted uint8

const (
	countNone counted = iota
	countCorruption
	countLeak
	countCheckError
)

// Check validates the image and returns every finding: the refcount
// comparison `qemu-img check` makes (leaked clusters, clusters referenced
// more than their refcount says, misaligned L1, L2 and refcount entries,
// copied flags that disagree with refcounts, bad snapshot L1 tables) and
// more (header bits, entries past the end of the file, data clusters
// overlapping metadata). It reads every L2 table and refcount block once
// or twice; its memory is about two bytes per cluster of the file.
func (img *Image) Check() []Finding { return img.CheckReport().Findings }

// CheckReport is Check with the counts qemu-img check reports.
func (img *Image) CheckReport() *CheckReport {
	c := &checker{img: img, rep: &CheckReport{}, perCode: map[string]int{}}
	c.headerFindings()
	if img.Header == nil || img.l2Cache == nil || img.L1 == nil && img.Header.L1Size > 0 || img.RefcountTable == nil {
		return c.rep
	}
	c.refcounts()
	for code, n := range c.perCode {
		if n > maxFindingsPerCode {
			c.rep.Findings = append(c.rep.Findings, Finding{Code: code, Severity: SeverityInfo, Structure: "check", Offset: -1,
				Message: fmt.Sprintf("%d more findings of code %s are not listed", n-maxFindingsPerCode, code)})
		}
	}
	return c.rep
}

type checker struct {
	img       *Image
	rep       *CheckReport
	perCode   map[string]int
	computed  []uint16 // references found per host cluster
	refMax    uint64   // largest refcount the image can store (capped at 65535)
	fileEnd   uint64   // clusters in the file
	metadata  []uint64 // bit set of the host clusters holding metadata, for overlap findings
	aborted   bool     // the check stopped (too many clusters)
	buf       []byte   // one cluster, for reading tables
	dataFile  bool
	clusterSz uint64
}

func (c *checker) add(n counted, code string, sev Severity, structure string, off int64, format string, args ...any) {
	c.addTimes(1, n, code, sev, structure, off, format, args...)
}

// addTimes is add for a problem met times times (in an L2 table several
// L1 entries share).
func (c *checker) addTimes(times int64, n counted, code string, sev Severity, structure string, off int64, format string, args ...any) {
	switch n {
	case countCorruption:
		c.rep.Corruptions += times
	case countLeak:
		c.rep.Leaks += times
	case countCheckError:
		c.rep.CheckErrors += times
	}
	c.perCode[code]++
	if c.perCode[code] <= maxFindingsPerCode {
		c.rep.Findings = append(c.rep.Findings, Finding{Code: code, Severity: sev, Structure: structure, Offset: off, Message: fmt.Sprintf(format, args...)})
	}
}

// headerFindings reports the header bits and what Open could not read.
func (c *checker) headerFindings() {
	img := c.img
	h := img.Header
	if h == nil {
		return
	}
	if h.Dirty() {
		c.add(countNone, "header.dirty", SeverityWarning, "header", 72, "the dirty bit is set: refcounts were not flushed (lazy refcounts) and may be wrong until repaired")
	}
	if h.Corrupt() {
		c.add(countNone, "header.corrupt", SeverityError, "header", 72, "the corrupt bit is set: QEMU found corruption and opens the image read-only")
	}
	if img.readErr != nil {
		code := "image.unreadable"
		var fe *FormatError
		if errors.As(img.readErr, &fe) {
			switch fe.Err {
			case ErrEncrypted:
				c.add(countNone, "header.encrypted", SeverityInfo, fe.Structure, fe.Offset, "%s", fe.Msg)
				return
			case ErrUnsupported:
				code = "header.unsupported"
			}
		}
		c.add(countNone, code, SeverityError, "image", -1, "%v", img.readErr)
	}
}

// refcounts rebuilds the refcounts from the references and compares, the
// way qemu-img check does.
func (c *checker) refcounts() {
	img := c.img
	h := img.Header
	c.clusterSz = uint64(h.ClusterSize())
	c.fileEnd = (uint64(img.Size) + c.clusterSz - 1) / c.clusterSz
	if c.fileEnd > maxCheckClusters {
		c.add(countCheckError, "check.too_large", SeverityWarning, "image", -1, "the file has %d clusters, more than the %d Check counts", c.fileEnd, maxCheckClusters)
		return
	}
	c.computed = make([]uint16, c.fileEnd)
	c.metadata = make([]uint64, (c.fileEnd+63)/64)
	c.refMax = 0xffff
	if h.RefcountBits() < 16 {
		c.refMax = 1<<h.RefcountBits() - 1
	}
	c.buf = make([]byte, c.clusterSz)
	c.dataFile = h.ExternalData()

	c.inc(0, c.clusterSz, true)
	c.l1(h.L1TableOffset, uint64(h.L1Size), "L1 table", img.L1)
	for _, s := range img.Snapshots {
		where := fmt.Sprintf("snapshot %s (%s)", s.ID, s.Name)
		switch {
		case s.L1TableOffset%c.clusterSz != 0:
			c.add(countCorruption, "snapshot.l1_unaligned", SeverityError, where, s.Offset, "the L1 table offset %#x is not cluster aligned", s.L1TableOffset)
		case uint64(s.L1Size)*8 > MaxL1Bytes:
			c.add(countCorruption, "snapshot.l1_too_large", SeverityError, where, s.Offset, "the L1 table has %d entries, more than QEMU allows", s.L1Size)
		default:
			c.l1(s.L1TableOffset, uint64(s.L1Size), "L1 table of "+where, nil)
		}
	}
	if len(img.Snapshots) > 0 {
		c.inc(h.SnapshotsOffset, uint64(img.snapshotsEnd)-h.SnapshotsOffset, true)
	}
	c.inc(h.RefcountTableOffset, uint64(len(img.RefcountTable))*8, true)
	if ch := img.CryptoHeader; ch != nil && ch.HeaderLength > 0 {
		c.inc(ch.HeaderOffset, ch.HeaderLength, true)
	}
	c.bitmaps()
	c.refcountBlocks()
	if c.aborted {
		return
	}
	c.compare()
	c.copiedFlags()
}
