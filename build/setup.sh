#!/usr/bin/env bash
# Installs what `make test` and `make bench` need on a Debian machine.
# Idempotent and silent when everything is present. As root it installs what
# is missing; otherwise it prints the command to run and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages, one "what-to-look-for package" pair per line. What to look
# for is a command on PATH, or an absolute path for tools a shell builtin
# would shadow.
apt_needs=(
	"make make"
	"qemu-img qemu-utils"
	"qemu-io qemu-utils"
	"/usr/bin/time time"
	"/usr/bin/chromium chromium"
	"/usr/bin/firefox-esr firefox-esr"
	"gzip gzip"
	# Partition tables and filesystems: made by their own tools in the tests
	# and read back by independent ones (The Sleuth Kit, blkid).
	"mmls sleuthkit"
	"sfdisk fdisk"
	"sgdisk gdisk"
	"blkid util-linux"
	"mkfs.ext4 e2fsprogs"
	"mkfs.vfat dosfstools"
	"mkntfs ntfs-3g"
	"mkfs.exfat exfatprogs"
	"mkfs.xfs xfsprogs"
	"mkfs.btrfs btrfs-progs"
	"mcopy mtools"
	"xorriso xorriso"
	"pvck lvm2"
	"cryptsetup cryptsetup-bin"
	"fls sleuthkit"
	"icat sleuthkit"
	"istat sleuthkit"
	"debugfs e2fsprogs"
	"mkfs.fat dosfstools"
	"mcopy mtools"
	"ntfscp ntfs-3g"
	"fsck.exfat exfatprogs"
	"xfs_db xfsprogs"
	# ZIP archives of the Files view checked by Info-ZIP (e2e).
	"unzip unzip"
)

missing=()
for need in "${apt_needs[@]}"; do
	read -r probe pkg <<<"$need"
	if [[ $probe == /* ]]; then
		[[ -x $probe ]] && continue
	else
		command -v "$probe" >/dev/null 2>&1 && continue
	fi
	[[ " ${missing[*]-} " == *" $pkg "* ]] || missing+=("$pkg")
done

# libvhdi's Python bindings: an independent reader of differencing chains.
/usr/bin/python3 -c 'import pyvhdi' >/dev/null 2>&1 || missing+=("python3-libvhdi")
# libqcow's Python bindings: an independent reader of qcow2 images.
/usr/bin/python3 -c 'import pyqcow' >/dev/null 2>&1 || missing+=("python3-libqcow")

if ((${#missing[@]})); then
	if ((EUID != 0)) || ! command -v apt-get >/dev/null 2>&1; then
		echo "build/setup.sh: missing Debian packages: ${missing[*]}" >&2
		echo "install them with: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
	echo "build/setup.sh: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq </dev/null
	apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
fi

# npm packages for the browser tests (playwright-core and puppeteer-core,
# pinned in package-lock.json; they download no browser: tests use Debian's
# chromium and firefox-esr).
if ! command -v npm >/dev/null 2>&1; then
	echo "build/setup.sh: node and npm (Node 20 or later) are needed for the browser tests" >&2
	exit 1
fi
if [[ ! -d node_modules/playwright-core || ! -d node_modules/puppeteer-core ]]; then
	echo "build/setup.sh: installing npm packages" >&2
	PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error </dev/null >/dev/null
fi
