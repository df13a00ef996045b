#!/usr/bin/env bash
# Installs what `make test` and `make bench` need on a Debian machine.
# Idempotent and silent when everything is present. As root it installs what
# is missing; otherwise it prints the command to run and exits 1.
set -euo pipefail

# Debian packages, one "what-to-look-for package" pair per line. What to look
# for is a command on PATH, or an absolute path for tools a shell builtin
# would shadow. Browser tests will add e.g. "chromium chromium" here.
apt_needs=(
	"make make"
	"qemu-img qemu-utils"
	"qemu-io qemu-utils"
	"/usr/bin/time time"
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

# npm packages for the browser tests (playwright-core) go here, after the
# apt step that provides node and npm.
