package ext

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vhdx-inspector/vhdx-inspector/filesystem"
	"github.com/vhdx-inspector/vhdx-inspector/filesystem/internal/fstest"
	"github.com/vhdx-inspector/vhdx-inspector/internal/disktest"
)

// makeTree writes a directory tree with the cases the reader must get
// right: many entries (a hashed directory), Unicode names, symbolic links
// short and long, a sparse file, a multi-megabyte file, a FIFO, an empty
// directory.
func makeTree(t *testing.T) string {
	dir := t.TempDir()
	write := func(name string, data []byte) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.txt", []byte("hello\n"))
	write("small/medium.txt", []byte(strings.Repeat("inline data beyond i_block; ", 4)))
	write("dir/ファイル ü.txt", []byte("ünïcødé"))
	big := make([]byte, 3_000_017)
	for i := range big {
		big[i] = byte(i*7 + i>>11)
	}
	write("dir/sub/big.bin", big)
	for i := range 400 {
		write("many/file-"+strings.Repeat("x", i%40)+string(rune('a'+i%26))+"-"+itoa(i), []byte(itoa(i)))
	}
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o700); err != nil {
		t.Fatal(err)
	}
	sparse := filepath.Join(dir, "sparse")
	write("sparse", nil)
	f, err := os.OpenFile(sparse, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("middle"), 5<<20)
	f.WriteAt([]byte("tail"), 11<<20)
	f.Close()
	for _, l := range [][2]string{{"a.txt", "link"}, {strings.Repeat("long/", 30) + "target", "longlink"}} {
		if err := os.Symlink(l[0], filepath.Join(dir, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	disktest.Output(t, "mkfifo", filepath.Join(dir, "fifo"))
	return dir
}

func itoa(i int) string {
	const d = "0123456789"
	if i < 10 {
		return d[i : i+1]
	}
	return itoa(i/10) + d[i%10:i%10+1]
}

// image makes a filesystem image of tree with mkfs (type, extra args).
func image(t *testing.T, tree, typ string, args ...string) string {
	img := filepath.Join(t.TempDir(), typ+".img")
	disktest.Output(t, "mkfs."+typ, append(append([]string{"-q", "-F", "-d", tree}, args...), img, "40M")...)
	return img
}

// TestAgainstSleuthKit compares listings, every timestamp, sizes, inode
// numbers, owners, link targets and contents with fls and icat, on ext2,
// ext3, ext4 and ext4 with inline data (small files and directories held
// in the inode) images made by mkfs -d, and on removed names after
// debugfs rm.
func TestAgainstSleuthKit(t *testing.T) {
	disktest.Need(t, "mkfs.ext4", "debugfs", "fls", "icat", "mkfifo")
	tree := makeTree(t)
	for _, c := range []struct {
		name, typ string
		args      []string
	}{{"ext2", "ext2", nil}, {"ext3", "ext3", nil}, {"ext4", "ext4", nil}, {"ext4-inline", "ext4", []string{"-O", "inline_data"}}} {
		typ := c.typ
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			img := image(t, tree, typ, c.args...)
			disktest.Output(t, "debugfs", "-w", "-R", "rm /a.txt", img)
			disktest.Output(t, "debugfs", "-w", "-R", "rm /many/file-xb-1", img)
			compare(t, img, typ == "ext4", c.args != nil)
			if typ != "ext4" {
				bornLikeDebugfs(t, img, "/dir/sub/big.bin")
			}
		})
	}
}

// bornLikeDebugfs checks the creation time of p against debugfs, for ext2
// and ext3, whose creation times fls does not show.
func bornLikeDebugfs(t *testing.T, img, p string) {
	r, size := disktest.Open(t, img)
	fsys, err := Open(r, size)
	if err != nil {
		t.Fatal(err)
	}
	e, err := fsys.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	out := string(disktest.Output(t, "debugfs", "-R", "stat "+p, img))
	_, rest, ok := strings.Cut(out, "crtime: 0x")
	if !ok || e.Born == nil {
		t.Fatalf("%s: born %v; debugfs: %s", p, e.Born, out)
	}
	sec, err := strconv.ParseUint(rest[:8], 16, 32)
	if err != nil {
		t.Fatal(err)
	}
	extra, err := strconv.ParseUint(rest[9:17], 16, 32)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Unix(int64(int32(sec))+int64(extra&3)<<32, int64(extra>>2)).UTC(); !e.Born.Equal(want) {
		t.Errorf("%s: born %v, debugfs %v", p, e.Born, want)
	}
}

// compare checks every entry against fls; crtime is compared only when fls
// shows it (withBorn). With inline data, small files have no extents.
func compare(t *testing.T, img string, withBorn, inline bool) {
	r, size := disktest.Open(t, img)
	fsys, err := Open(r, size)
	if err != nil {
		t.Fatal(err)
	}
	got := fstest.Entries(t, fsys)
	bodies := fstest.Fls(t, img)
	deleted := 0
	for _, b := range bodies {
		if b.Path == "/$OrphanFiles" || strings.HasPrefix(b.Path, "/$OrphanFiles/") {
			continue
		}
		e, ok := got[b.Path]
		if !ok {
			t.Errorf("%s (inode %s) listed by fls, not by us", b.Path, b.Inode)
			continue
		}
		delete(got, b.Path)
		if e.ID != b.Inode || e.Deleted != b.Deleted {
			t.Errorf("%s: id %s deleted %v, fls %s %v", b.Path, e.ID, e.Deleted, b.Inode, b.Deleted)
		}
		if b.Deleted {
			deleted++
		}
		if e.Size != b.Size || fstest.Secs(e.Accessed) != b.Atime || fstest.Secs(e.Modified) != b.Mtime ||
			fstest.Secs(e.Changed) != b.Ctime || (withBorn && fstest.Secs(e.Born) != b.Crtime) {
			t.Errorf("%s: size %d times %d %d %d %d; fls %d, %d %d %d %d", b.Path, e.Size,
				fstest.Secs(e.Accessed), fstest.Secs(e.Modified), fstest.Secs(e.Changed), fstest.Secs(e.Born),
				b.Size, b.Atime, b.Mtime, b.Ctime, b.Crtime)
		}
		if mode := filesystem.ModeString(e); mode != b.Mode || itoa(int(e.UID)) != b.UID || itoa(int(e.GID)) != b.GID {
			t.Errorf("%s: mode %s uid %d gid %d; fls %s %s %s", b.Path, mode, e.UID, e.GID, b.Mode, b.UID, b.GID)
		}
		if e.Type == filesystem.TypeSymlink && b.Target != "" && e.Target != b.Target {
			t.Errorf("%s: target %q, fls %q", b.Path, e.Target, b.Target)
		}
		// Contents by icat: every file but most of the 400 small ones.
		if e.Type == filesystem.TypeFile && !e.Deleted && (!strings.HasPrefix(e.Path, "/many/") || strings.HasSuffix(e.Path, "0")) {
			f, err := fsys.Open(e.Path)
			if err != nil {
				t.Errorf("open %s: %v", e.Path, err)
				continue
			}
			want := fstest.SHA256Bytes(fstest.Icat(t, img, b.Inode))
			if h := fstest.SHA256(t, f); h != want {
				t.Errorf("%s: sha256 %s, icat %s", e.Path, h, want)
			}
			ext, err := fsys.Extents(e.Path)
			heldInInode := inline && len(ext) == 0 && e.Size <= 256
			if err != nil {
				t.Errorf("extents %s: %v", e.Path, err)
			} else if h := fstest.ExtentsSHA256(t, r, 0, ext, e.Size); h != want && !heldInInode {
				t.Errorf("%s: bytes at extents %v hash %s, icat %s", e.Path, ext, h, want)
			}
		}
	}
	for p := range got {
		t.Errorf("%s listed by us, not by fls", p)
	}
	if deleted != 2 {
		t.Errorf("fls shows %d removed names, want 2", deleted)
	}
}
