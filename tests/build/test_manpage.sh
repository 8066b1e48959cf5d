#!/usr/bin/env bash
# docs/stratad.8 (rendered from docs/stratad.8.in by make) formats
# without a single groff warning, and its OPTIONS section and
# `stratad --help` name the same flags, each option that the
# configuration file takes with its [key]: neither can drift from the
# other. Prints ok / not ok.
set -u
builddir=${STRATA_BUILDDIR:?STRATA_BUILDDIR names the build directory}
stratad=${STRATAD:?STRATAD names the stratad binary}
page=$builddir/docs/stratad.8
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/build/build_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/build_lib.sh"

if ! command -v groff >/dev/null 2>&1; then
    not_ok "groff is installed (Debian package groff-base)"
    exit 1
fi
if [ ! -f "$page" ]; then
    not_ok "make built docs/stratad.8"
    exit 1
fi

# groff_warnings FILE: every warning groff has for FILE as a man page.
groff_warnings() {
    LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$1" 2>&1
}
warnings=$(groff_warnings "$page")
if [ -z "$warnings" ]; then
    ok "groff -man -ww: no warning"
else
    printf '%s\n' "$warnings" | sed 's/^/# /'
    not_ok "groff -man -ww: no warning"
fi
# The check must be able to fail: an unknown macro.
{
    cat "$page"
    echo ".XY not a man macro"
} >"$tmp/bad.8"
if [ -n "$(groff_warnings "$tmp/bad.8")" ]; then
    ok "groff -man -ww warns about a page with an unknown macro"
else
    not_ok "groff -man -ww warns about a page with an unknown macro"
fi

# options_section FILE: the OPTIONS section as plain text (no bold or
# underline), wide enough that no tag wraps.
options_section() {
    LC_ALL=C groff -man -Tascii -P-cbou -rLL=200n "$1" 2>/dev/null |
        sed -n '/^OPTIONS$/,/^[A-Z]/p'
}
# The flags a text names as tags: lines that start with one, indented.
tagged_flags() {
    sed -n 's/^ \{1,8\}\(--[a-z][a-z-]*\).*/\1/p' | LC_ALL=C sort -u
}

"$stratad" --help >"$tmp/help" 2>&1 || not_ok "stratad --help exits 0"
grep -o -- '--[a-z][a-z-]*' "$tmp/help" | LC_ALL=C sort -u >"$tmp/help.flags"
options_section "$page" >"$tmp/options"
tagged_flags <"$tmp/options" >"$tmp/man.flags"
count=$(wc -l <"$tmp/help.flags")
if [ "$count" -lt 10 ] || [ ! -s "$tmp/man.flags" ]; then
    not_ok "found the flags (--help: $count, man page: $(wc -l <"$tmp/man.flags"))"
elif diff -u "$tmp/help.flags" "$tmp/man.flags" >"$tmp/diff"; then
    ok "OPTIONS documents exactly the $count flags of stratad --help"
else
    sed 's/^/# /' "$tmp/diff"
    not_ok "OPTIONS documents exactly the flags of stratad --help" \
        "(- only in --help, + only in the man page)"
fi

# Each option the configuration file takes names its key, "[key]", at
# the start of its description.
missing=
while read -r flag; do
    case $flag in --config | --help | --version) continue ;; esac
    key=${flag#--}
    grep -q "^ *\[$key\] " "$tmp/options" || missing="$missing $flag"
done <"$tmp/help.flags"
if [ -z "$missing" ]; then
    ok "OPTIONS names the config-file key of every option"
else
    not_ok "OPTIONS names the config-file key of:$missing"
fi

# And the flag check can fail: a page without --threads.
sed '/^\.BI \\-\\-threads /,/^\.TP/d' "$page" >"$tmp/nothreads.8"
options_section "$tmp/nothreads.8" | tagged_flags >"$tmp/nothreads.flags"
if ! diff -q "$tmp/help.flags" "$tmp/nothreads.flags" >/dev/null &&
    ! grep -qx -- '--threads' "$tmp/nothreads.flags"; then
    ok "a page without --threads fails the flag check"
else
    not_ok "a page without --threads fails the flag check"
fi

[ "$failed" -eq 0 ]
