package xfs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/internal/fstest"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
)

// source is what the protofile puts in the filesystem: files by path with
// their contents, symbolic links with their targets.
type source struct {
	files map[string][]byte
	links map[string]string
}

// makeImage writes the source files and a protofile, and makes an XFS
// image of it with mkfs.xfs -p (crc: v5 metadata or v4). It has short-form
// directories, a directory of 400 entries (leaf or node form), one of 40
// (block form), a multi-megabyte file, and symbolic links held in the
// inode and in a block.
func makeImage(t *testing.T, crc string) (string, source) {
	dir := t.TempDir()
	src := source{files: map[string][]byte{}, links: map[string]string{}}
	var proto strings.Builder
	proto.WriteString("/dev/null\n0 0\nd--755 0 0\n")
	n := 0
	file := func(indent, name string, data []byte, perm string, uid int) {
		p := filepath.Join(dir, fmt.Sprintf("src%d", n))
		n++
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&proto, "%s%s -%s %d %d %s\n", indent, name, perm, uid, uid+1, p)
	}
	big := make([]byte, 3_000_017)
	for i := range big {
		big[i] = byte(i*7 + i>>13)
	}
	file("", "hello.txt", []byte("hello xfs\n"), "--644", 1000)
	src.files["/hello.txt"] = []byte("hello xfs\n")
	file("", "big.bin", big, "--600", 0)
	src.files["/big.bin"] = big
	long := strings.Repeat("long/", 120) + "target"
	fmt.Fprintf(&proto, "short l--777 0 0 hello.txt\nlong l--777 0 0 %s\n", long)
	src.links["/short"], src.links["/long"] = "hello.txt", long
	proto.WriteString("many d--750 5 6\n")
	for i := range 400 {
		name := fmt.Sprintf("entry-with-a-longish-name-%03d", i)
		data := []byte(strconv.Itoa(i))
		file(" ", name, data, "--640", i)
		src.files["/many/"+name] = data
	}
	proto.WriteString(" small d--700 0 0\n  ünï.txt ---644 0 0 " + filepath.Join(dir, "src0") + "\n $\n$\n")
	src.files["/many/small/ünï.txt"] = []byte("hello xfs\n")
	proto.WriteString("block d--755 0 0\n")
	for i := range 40 {
		name := fmt.Sprintf("in-one-directory-block-%02d", i)
		file(" ", name, []byte(name), "--644", 0)
		src.files["/block/"+name] = []byte(name)
	}
	proto.WriteString(" $\n$\n")
	pf := filepath.Join(dir, "proto")
	if err := os.WriteFile(pf, []byte(proto.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "xfs.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 64<<20); err != nil {
		t.Fatal(err)
	}
	// mkfs.xfs makes filesystems under 300 MiB only for the kernel's test
	// suites, which these variables name.
	cmd := exec.Command("mkfs.xfs", "-q", "-m", "crc="+crc, "-p", pf, img)
	cmd.Env = append(os.Environ(), "TEST_DIR=1", "TEST_DEV=1", "QA_CHECK_FS=1")
	disktest.Cmd(t, cmd)
	return img, src
}

// TestAgainstXFSDB compares every directory listing (names and inode
// numbers) and every inode's mode, owner, size and timestamps with xfs_db,
// and contents and link targets with what the protofile put in, on v5
// and v4 filesystems.
func TestAgainstXFSDB(t *testing.T) {
	disktest.Need(t, "mkfs.xfs", "xfs_db")
	for _, crc := range []string{"1", "0"} {
		t.Run("crc="+crc, func(t *testing.T) {
			t.Parallel()
			img, src := makeImage(t, crc)
			r, size := disktest.Open(t, img)
			fsys, err := Open(r, size)
			if err != nil {
				t.Fatal(err)
			}
			got := fstest.Entries(t, fsys)
			dbListing(t, img, "/", got)
			dbInodes(t, img, got, crc == "1")
			for p, data := range src.files {
				e, ok := got[p]
				if !ok {
					t.Errorf("%s missing", p)
					continue
				}
				f, err := fsys.Open(p)
				if err != nil {
					t.Fatal(err)
				}
				want := fstest.SHA256Bytes(data)
				if h := fstest.SHA256(t, f); h != want {
					t.Errorf("%s: sha256 %s, want %s", p, h, want)
				}
				ext, err := fsys.Extents(p)
				if err != nil {
					t.Fatal(err)
				}
				if h := fstest.ExtentsSHA256(t, r, 0, ext, e.Size); h != want {
					t.Errorf("%s: bytes at extents %v hash %s, want %s", p, ext, h, want)
				}
			}
			for p, target := range src.links {
				if e := got[p]; e.Type != filesystem.TypeSymlink || e.Target != target {
					t.Errorf("%s: %s -> %q, want %q", p, e.Type, e.Target, target)
				}
			}
		})
	}
}

var lsLine = regexp.MustCompile(`^\s*\d+\s+(\d+)\s+(\S+)\s+0x[0-9a-f]+\s+\d+\s+(.*) \(good\)$`)

// dbListing checks directory p and, recursively, its subdirectories
// against xfs_db's ls.
func dbListing(t *testing.T, img, p string, got map[string]filesystem.Entry) {
	out := disktest.Output(t, "xfs_db", "-r", "-c", "path "+p, "-c", "ls", img)
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		m := lsLine.FindStringSubmatch(l)
		if m == nil || m[3] == "." || m[3] == ".." {
			continue
		}
		n++
		child := filesystem.JoinPath(p, m[3])
		e, ok := got[child]
		if !ok || e.ID != m[1] {
			t.Errorf("%s: inode %s in xfs_db, we have %q (listed %v)", child, m[1], e.ID, ok)
			continue
		}
		if m[2] == "directory" {
			dbListing(t, img, child, got)
		}
	}
	count := 0
	for q := range got {
		if filepath.Dir(q) == p {
			count++
		}
	}
	if count != n {
		t.Errorf("%s: %d entries, xfs_db %d", p, count, n)
	}
}

// dbInodes checks every entry's inode against xfs_db's print of it.
func dbInodes(t *testing.T, img string, got map[string]filesystem.Entry, v5 bool) {
	fields := "core.mode core.uid core.gid core.size core.atime.sec core.atime.nsec core.mtime.sec core.mtime.nsec core.ctime.sec core.ctime.nsec"
	if v5 {
		fields += " v3.crtime.sec v3.crtime.nsec"
	}
	args := []string{"-r"}
	var order []filesystem.Entry
	for _, e := range got {
		args = append(args, "-c", "inode "+e.ID, "-c", "print "+fields)
		order = append(order, e)
	}
	cmd := exec.Command("xfs_db", append(args, img)...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	vals := map[string][]string{}
	for _, l := range strings.Split(string(disktest.Cmd(t, cmd)), "\n") {
		if k, v, ok := strings.Cut(l, " = "); ok {
			vals[k] = append(vals[k], v)
		}
	}
	when := func(k string, i int) time.Time {
		s, err := time.Parse(time.ANSIC, vals[k+".sec"][i])
		if err != nil {
			t.Fatal(err)
		}
		ns, _ := strconv.Atoi(vals[k+".nsec"][i])
		return s.Add(time.Duration(ns))
	}
	for i, e := range order {
		mode, _ := strconv.ParseUint(vals["core.mode"][i], 8, 32)
		if uint32(mode) != e.Mode || vals["core.uid"][i] != fmt.Sprint(e.UID) || vals["core.gid"][i] != fmt.Sprint(e.GID) || vals["core.size"][i] != fmt.Sprint(e.Size) {
			t.Errorf("%s: mode %o uid %d gid %d size %d; xfs_db %s %s %s %s", e.Path, e.Mode, e.UID, e.GID, e.Size,
				vals["core.mode"][i], vals["core.uid"][i], vals["core.gid"][i], vals["core.size"][i])
		}
		times := []struct {
			key string
			t   *time.Time
		}{{"core.atime", e.Accessed}, {"core.mtime", e.Modified}, {"core.ctime", e.Changed}}
		if v5 {
			times = append(times, struct {
				key string
				t   *time.Time
			}{"v3.crtime", e.Born})
		} else if e.Born != nil {
			t.Errorf("%s: a creation time on a v4 filesystem", e.Path)
		}
		for _, tm := range times {
			if want := when(tm.key, i); tm.t == nil || !tm.t.Equal(want) {
				t.Errorf("%s: %s %v, xfs_db %v", e.Path, tm.key, tm.t, want)
			}
		}
	}
}
