#!/usr/bin/env bash
# make install DESTDIR=... from this build directory, then the tree it
# leaves: stratad runs, and exactly the man page, the example config,
# the nginx snippets and the systemd units sit at the paths configure
# chose. make uninstall removes them all, except an example config the
# administrator changed, which make install does not overwrite either
# (Makefile.am, "installation"). Prints ok / not ok.
set -u
builddir=${STRATA_BUILDDIR:?STRATA_BUILDDIR names the build directory}
srcdir=${STRATA_SRCDIR:?STRATA_SRCDIR names the source directory}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/build/build_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/build_lib.sh"

sbindir=$(makevar sbindir)
sysconfdir=$(makevar sysconfdir)
mandir=$(makevar mandir)
pkgdatadir=$(makevar pkgdatadir)
unitdir=$(makevar systemdsystemunitdir)
version=$(makevar VERSION)
snippets=$(makevar STRATA_NGINX_SNIPPETS)
echo "# sbindir=$sbindir sysconfdir=$sysconfdir mandir=$mandir"
echo "# pkgdatadir=$pkgdatadir systemdsystemunitdir=$unitdir"

# Files left under a DESTDIR, relative to it, sorted.
files_under() {
    (cd "$1" && find . \( -type f -o -type l \) | sed 's|^\.||' | LC_ALL=C sort)
}

expected="$tmp/expected"
{
    echo "$sbindir/stratad"
    echo "$mandir/man8/stratad.8"
    echo "$sysconfdir/strata/stratad.conf"
    for f in $snippets; do echo "$pkgdatadir/nginx/$f"; done
    if [ -n "$unitdir" ]; then
        echo "$unitdir/stratad.service"
        echo "$unitdir/stratad@.service"
    fi
} | LC_ALL=C sort >"$expected"

root=$tmp/root
if ! mk install DESTDIR="$root" >"$tmp/install.out" 2>&1; then
    cat "$tmp/install.out"
    not_ok "make install DESTDIR=..."
    exit 1
fi
ok "make install DESTDIR=..."

files_under "$root" >"$tmp/installed"
if diff -u "$expected" "$tmp/installed"; then
    ok "make install installs exactly the expected files"
else
    not_ok "make install installs exactly the expected files (diff above)"
fi

out=$("$root$sbindir/stratad" --version 2>&1)
check "installed stratad --version says 'stratad $version'" \
    test "$out" = "stratad $version"

man=$root$mandir/man8/stratad.8
check "the man page is the rendered docs/stratad.8" \
    cmp -s "$man" "$builddir/docs/stratad.8"
# (less the \: break points between the parts of a path)
check "the man page names the configured config file" \
    sh -c "sed 's/\\\\://g' '$man' | grep -qF '$sysconfdir/strata/stratad.conf'"

check "the example config is etc/stratad.conf" \
    cmp -s "$root$sysconfdir/strata/stratad.conf" "$srcdir/etc/stratad.conf"

for f in strata-upstream.conf strata-locations.conf; do
    case " $snippets " in
    *" $f "*) ;;
    *) not_ok "make install installs the nginx snippet $f" ;;
    esac
done
for f in $snippets; do
    snippet=$root$pkgdatadir/nginx/$f
    check "nginx/$f has no placeholder left" \
        sh -c "! grep -q '@[A-Za-z_][A-Za-z_]*@' '$snippet'"
    # nginx reads an include by absolute path, so each must name an
    # installed file.
    sed -n 's/^[[:space:]]*include[[:space:]]\{1,\}\([^;]*\);.*/\1/p' \
        "$snippet" | sort -u >"$tmp/includes"
    while read -r inc; do
        check "nginx/$f includes $inc, which is installed" \
            test -f "$root$inc"
    done <"$tmp/includes"
done
check "the upstream snippet points at stratad.service's socket" \
    grep -q 'unix:/run/strata/stratad\.sock' \
    "$root$pkgdatadir/nginx/strata-upstream.conf"

if [ -n "$unitdir" ]; then
    for unit in stratad.service stratad@.service; do
        check "$unit runs the installed stratad with the installed config" \
            grep -qF \
            "ExecStart=$sbindir/stratad --config $sysconfdir/strata/stratad.conf" \
            "$root$unitdir/$unit"
    done
fi

# An administrator's config survives make install and make uninstall.
conf=$root$sysconfdir/strata/stratad.conf
echo "threads = 7 # changed by the administrator" >>"$conf"
cp "$conf" "$tmp/changed.conf"
mk install DESTDIR="$root" >"$tmp/install2.out" 2>&1 ||
    not_ok "make install over an installed tree"
check "make install keeps a changed config" cmp -s "$conf" "$tmp/changed.conf"
check "make install says it kept the changed config" \
    grep -q "keeping .*stratad.conf" "$tmp/install2.out"

mk uninstall DESTDIR="$root" >"$tmp/uninstall.out" 2>&1 ||
    not_ok "make uninstall"
files_under "$root" >"$tmp/left"
printf '%s\n' "$sysconfdir/strata/stratad.conf" >"$tmp/left.expected"
if diff -u "$tmp/left.expected" "$tmp/left"; then
    ok "make uninstall leaves only the changed config"
else
    not_ok "make uninstall leaves only the changed config (diff above)"
fi

# A fresh install and uninstall leave nothing behind.
root2=$tmp/root2
if mk install DESTDIR="$root2" >/dev/null 2>&1 &&
    mk uninstall DESTDIR="$root2" >/dev/null 2>&1; then
    files_under "$root2" >"$tmp/left2"
    if [ -s "$tmp/left2" ]; then
        cat "$tmp/left2"
        not_ok "make uninstall leaves no file (left above)"
    else
        ok "make uninstall leaves no file"
    fi
else
    not_ok "make install and make uninstall in a fresh DESTDIR"
fi

[ "$failed" -eq 0 ]
