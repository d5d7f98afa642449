#!/usr/bin/env bash
# Builds the Debian package a fleet installs: target/debian/kafkactl_<version>_amd64.deb, with
# dpkg-deb (Debian's own tool, already on every Debian machine; no cargo plugin to build).
#
# Usage: scripts/package-deb.sh [--no-build] [--out DIR]
#
# Contents:
#   /usr/bin/kafkactl                         the release binary (no debug info)
#   /lib/systemd/system/kafkactl-proxy.service the proxy unit (config /etc/kafkactl/proxy.json;
#                                             installed, not enabled)
#   /usr/share/kafkactl/units/                the unit templates as shipped in units/; the
#                                             consumer template is written to /etc/systemd/system
#                                             by `kafkactl install-units`, which fills in the
#                                             site's app user (--run-as), app directory and
#                                             manifest: a package cannot know them
#   /usr/share/bash-completion/completions/kafkactl, zsh and fish completions
#   /usr/share/man/man1/kafkactl.1.gz, kafkactl-SUBCOMMAND.1.gz
#   /usr/share/doc/kafkactl/                  README, docs, copyright
# Maintainer scripts: postinst/postrm reload systemd when it runs (nothing is enabled or
# started by installing).
#
# Prints the path of the .deb on stdout (progress goes to stderr).
set -euo pipefail

prog="package-deb.sh"
say() { echo "$prog: $*" >&2; }
die() {
  echo "$prog: error: $*" >&2
  exit 1
}

repo="$(cd "$(dirname "$0")/.." && pwd)"
build=1
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --out) out="${2:?--out needs a directory}"; shift ;;
    -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

command -v dpkg-deb >/dev/null || die "dpkg-deb not found (Debian's dpkg package)"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
out="${out:-$target_dir/debian}"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -1)"
[ -n "$version" ] || die "no version in Cargo.toml"
arch="$(dpkg --print-architecture)"

if [ "$build" -eq 1 ]; then
  say "building the release binary"
  (cd "$repo" && cargo build --release --locked --bin kafkactl >&2)
fi
bin="$target_dir/release/kafkactl"
[ -x "$bin" ] || die "$bin not found (build it, or drop --no-build)"
built="$("$bin" --version)"
[ "$built" = "kafkactl $version" ] || die "$bin says '$built', Cargo.toml says $version"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
root="$stage/kafkactl_${version}_$arch"
mkdir -p "$root/DEBIAN" "$root/usr/bin" "$root/lib/systemd/system" \
  "$root/usr/share/kafkactl/units" "$root/usr/share/bash-completion/completions" \
  "$root/usr/share/zsh/vendor-completions" "$root/usr/share/fish/vendor_completions.d" \
  "$root/usr/share/man/man1" "$root/usr/share/doc/kafkactl"

install -m 0755 "$bin" "$root/usr/bin/kafkactl"
install -m 0644 "$repo"/units/*.service "$root/usr/share/kafkactl/units/"
# The proxy unit needs no site settings: fill in the packaged paths. The consumer template
# does (the app's user and directory): `kafkactl install-units` writes it.
sed -e 's|@KAFKACTL@|/usr/bin/kafkactl|' -e 's|@PROXY_CONFIG@|/etc/kafkactl/proxy.json|' \
  -e 's|@WANTED_BY@|multi-user.target|' "$repo/units/kafkactl-proxy.service" \
  >"$root/lib/systemd/system/kafkactl-proxy.service"
if grep -q '@[A-Z_]*@' "$root/lib/systemd/system/kafkactl-proxy.service"; then
  die "a placeholder is left in kafkactl-proxy.service"
fi
chmod 0644 "$root/lib/systemd/system/kafkactl-proxy.service"
install -m 0644 "$repo/completions/kafkactl.bash" "$root/usr/share/bash-completion/completions/kafkactl"
install -m 0644 "$repo/completions/kafkactl.zsh" "$root/usr/share/zsh/vendor-completions/_kafkactl"
install -m 0644 "$repo/completions/kafkactl.fish" "$root/usr/share/fish/vendor_completions.d/kafkactl.fish"
for page in "$repo"/docs/man/*.1; do
  gzip -9n <"$page" >"$root/usr/share/man/man1/$(basename "$page").gz"
done
install -m 0644 "$repo/README.md" "$repo"/docs/*.md "$root/usr/share/doc/kafkactl/"
cat >"$root/usr/share/doc/kafkactl/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: kafkactl

Files: *
License: MIT
EOF

cat >"$root/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
# New or changed unit files: let a running systemd see them. Nothing is enabled or started.
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
EOF
cp "$root/DEBIAN/postinst" "$root/DEBIAN/postrm"
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/postrm"

installed_kb="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
cat >"$root/DEBIAN/control" <<EOF
Package: kafkactl
Version: $version
Architecture: $arch
Maintainer: kafkactl developers <kafkactl@localhost>
Installed-Size: $installed_kb
Depends: libc6 (>= 2.36), libgcc-s1, libssl3, zlib1g, systemd
Recommends: openssh-server
Section: admin
Priority: optional
Description: run Kafka consumers on a fleet of Linux servers
 One binary: a Rafka-compatible Kafka gateway (Redis protocol), the worker that
 systemd runs for each consumer instance (kafka-consumer@NAME:N), and the control
 plane (spawn, status, logs, deploy) for this host and, over SSH, the fleet.
EOF

mkdir -p "$out"
deb="$out/kafkactl_${version}_$arch.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >&2
say "built $deb ($(du -h "$deb" | cut -f1); binary $(du -h "$bin" | cut -f1))"
echo "$deb"
