#!/bin/bash
# Builds hako_VERSION_amd64.deb and hako-lxc-compat_VERSION_amd64.deb with dpkg-deb from
# the binaries of "make build" (target/dist): usage: build.sh VERSION DISTDIR OUTDIR.
# The man pages and completions come from the hako binary itself (hako __generate), so
# they are the CLI's own clap definitions. The Maintainer field: $DEB_MAINTAINER, else the
# author of the last commit.
set -euo pipefail
version=$1 dist=$2 out=$3
maintainer=${DEB_MAINTAINER:-$(git log -1 --format='%an <%ae>' 2>/dev/null || true)}
[ -n "$maintainer" ] || { echo "build.sh: set DEB_MAINTAINER=\"Name <mail>\" (no git history to take it from)" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
stage=$(mktemp -d "${TMPDIR:-/tmp}/hako-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
umask 022
h=$stage/hako c=$stage/compat
mkdir -p "$out"

# --- hako ---
install -d "$h/DEBIAN" "$h/usr/bin" "$h/etc/hako" "$h/lib/systemd/system" \
	"$h/usr/share/doc/hako" "$h/usr/share/man/man1" "$h/usr/share/man/man5" \
	"$h/usr/share/lintian/overrides"
install -m 0755 "$dist/hako" "$dist/hako-monitor" "$h/usr/bin/"
# the network helper of rootless containers: setuid root, the only hako program that is
install -m 4755 "$dist/hako-user-nic" "$h/usr/bin/"
ln -s hako "$h/usr/bin/hako-oci"
install -m 0644 "$here/../../contrib/default.conf" "$h/etc/hako/default.conf"
sed 's,/usr/local/bin/,/usr/bin/,g; /^# Install:/d' "$here/../../contrib/hako-autostart.service" \
	> "$h/lib/systemd/system/hako-autostart.service"
chmod 0644 "$h/lib/systemd/system/hako-autostart.service"

gen=$stage/gen
"$dist/hako" __generate man "$gen/man"
"$dist/hako" __generate completions "$gen/comp" hako
install -m 0644 "$gen"/man/*.1 "$h/usr/share/man/man1/"
install -m 0644 "$gen"/man/*.5 "$h/usr/share/man/man5/"
gzip -9n "$h"/usr/share/man/man1/*.1 "$h"/usr/share/man/man5/*.5
install -D -m 0644 "$gen/comp/bash/hako" "$h/usr/share/bash-completion/completions/hako"
install -D -m 0644 "$gen/comp/zsh/_hako" "$h/usr/share/zsh/vendor-completions/_hako"
install -D -m 0644 "$gen/comp/fish/hako.fish" "$h/usr/share/fish/vendor_completions.d/hako.fish"
cat > "$h/usr/share/lintian/overrides/hako" <<'OV'
# static-pie by design (no dynamic loader work at each of its many short runs)
hako: statically-linked-binary [usr/bin/hako]
hako: shared-library-lacks-prerequisites [usr/bin/hako]
# the rootless network helper (LXC's lxc-user-nic): setuid root by design
hako: elevated-privileges 4755 root/root [usr/bin/hako-user-nic]
OV

doc() { # $1: package root, $2: package name
	install -m 0644 "$here/copyright" "$1/usr/share/doc/$2/copyright"
	# a native package (no Debian revision): changelog.gz
	sed "s/@VERSION@/$version/; s/@PACKAGE@/$2/; s/@MAINTAINER@/$maintainer/" "$here/changelog" | gzip -9n \
		> "$1/usr/share/doc/$2/changelog.gz"
	chmod 0644 "$1/usr/share/doc/$2/changelog.gz"
}
doc "$h" hako
echo /etc/hako/default.conf > "$h/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "$here/hako.$s" "$h/DEBIAN/$s"; done

# --- hako-lxc-compat: the lxc-* names, never over LXC's own files (Conflicts: lxc) ---
install -d "$c/DEBIAN" "$c/usr/bin" "$c/usr/share/doc/hako-lxc-compat" \
	"$c/usr/share/bash-completion/completions" "$c/usr/share/zsh/vendor-completions" \
	"$c/usr/share/fish/vendor_completions.d"
# the links compat-links makes: exactly the names hako answers to
for t in $(ls "$gen/comp/bash" | grep '^lxc-'); do
	ln -s hako "$c/usr/bin/$t"
	install -m 0644 "$gen/comp/bash/$t" "$c/usr/share/bash-completion/completions/$t"
	install -m 0644 "$gen/comp/zsh/_$t" "$c/usr/share/zsh/vendor-completions/_$t"
	install -m 0644 "$gen/comp/fish/$t.fish" "$c/usr/share/fish/vendor_completions.d/$t.fish"
done
ln -s hako-user-nic "$c/usr/bin/lxc-user-nic"
doc "$c" hako-lxc-compat

shlibs="libc6 (>= $(objdump -T "$dist/hako-monitor" "$dist/hako-user-nic" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1 | sed 's/GLIBC_//'))"
for p in "$h:control.hako:hako" "$c:control.compat:hako-lxc-compat"; do
	root=${p%%:*} rest=${p#*:}; ctl=${rest%%:*} name=${rest#*:}
	size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
	sed "s/@VERSION@/$version/g; s/@SIZE@/$size/; s/@SHLIBS@/$shlibs/; s/@MAINTAINER@/$maintainer/" "$here/$ctl" > "$root/DEBIAN/control"
	(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print | sed 's,^\./,,' | LC_ALL=C sort | xargs md5sum > DEBIAN/md5sums)
	chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums" "$root/DEBIAN/conffiles" 2>/dev/null || true
	dpkg-deb --root-owner-group -Zxz --build "$root" "$out/${name}_${version}_amd64.deb"
done
