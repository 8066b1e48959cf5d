#!/usr/bin/env bash
# The systemd units as make install writes them (DESTDIR into a temp
# dir) pass `systemd-analyze verify` with no complaint at all, carry the
# settings of the deployment design, and stratad.service and
# stratad@.service differ only in their paths. Prints ok / not ok.
#
# verify wants the ExecStart binary at the path the unit names, and the
# man page of Documentation=: the checked copies point ExecStart into
# the DESTDIR, and MANPATH at its man pages. It exits 0 on a misspelt
# key or a bad value, only printing a warning, so any output counts as
# a failure; a unit with a deliberate typo checks that this catches it.
set -u
builddir=${STRATA_BUILDDIR:?STRATA_BUILDDIR names the build directory}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/build/build_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/build_lib.sh"

if ! command -v systemd-analyze >/dev/null 2>&1; then
    not_ok "systemd-analyze is installed (Debian package systemd)"
    exit 1
fi

sbindir=$(makevar sbindir)
sysconfdir=$(makevar sysconfdir)
mandir=$(makevar mandir)
unitdir=$(makevar systemdsystemunitdir)
root=$tmp/root
if ! mk install DESTDIR="$root" >"$tmp/install.out" 2>&1; then
    cat "$tmp/install.out"
    not_ok "make install DESTDIR=..."
    exit 1
fi

# checked_copy NAME FILE: prints the path of a copy of FILE named NAME
# (systemd-analyze takes the unit name from the file name) whose
# ExecStart points into the DESTDIR.
checked_copy() {
    local dir
    dir=$(mktemp -d "$tmp/unit.XXXXXX")
    sed "s|^ExecStart=$sbindir/|ExecStart=$root$sbindir/|" "$2" >"$dir/$1"
    if ! grep -q "^ExecStart=$root$sbindir/" "$dir/$1"; then
        echo "# $1: no ExecStart=$sbindir/... to point at the DESTDIR" >&2
        return 1
    fi
    printf '%s\n' "$dir/$1"
}
# verify_clean NAME FILE: true when systemd-analyze verify of the
# checked copy exits 0 and prints nothing.
verify_clean() {
    local copy rc
    copy=$(checked_copy "$1" "$2") || return 1
    MANPATH=$root$mandir systemd-analyze verify --man=yes "$copy" \
        >"$copy.out" 2>&1
    rc=$?
    sed 's/^/# /' "$copy.out"
    [ "$rc" -eq 0 ] && [ ! -s "$copy.out" ]
}

main=$root$unitdir/stratad.service
inst=$root$unitdir/stratad@.service
for unit in "$main" "$inst"; do
    if [ ! -f "$unit" ]; then
        not_ok "make install writes ${unit#"$root"}"
        exit 1
    fi
done

if verify_clean stratad.service "$main"; then
    ok "systemd-analyze verify stratad.service: clean"
else
    not_ok "systemd-analyze verify stratad.service: clean"
fi
if verify_clean stratad@.service "$inst" &&
    verify_clean stratad@test.service "$inst"; then
    ok "systemd-analyze verify stratad@.service and an instance: clean"
else
    not_ok "systemd-analyze verify stratad@.service and an instance: clean"
fi

# The check must be able to fail: a misspelt key, a bad value, a
# missing binary.
sed 's/^ProtectSystem=strict$/ProtectSytem=strict/' "$main" >"$tmp/typo"
sed 's/^UMask=0027$/UMask=0928/' "$main" >"$tmp/badvalue"
sed "s|^ExecStart=$sbindir/stratad |ExecStart=$sbindir/stratad-missing |" \
    "$main" >"$tmp/nobinary"
for bad in typo badvalue nobinary; do
    if cmp -s "$main" "$tmp/$bad"; then
        not_ok "the '$bad' copy differs from stratad.service"
    elif verify_clean stratad.service "$tmp/$bad" >/dev/null; then
        not_ok "verify catches a unit with a $bad"
    else
        ok "verify catches a unit with a $bad"
    fi
done

# The hardening, as systemd scores it (0 safest, 10 most exposed): at
# most 1.0, so that a setting dropped by mistake shows.
for unit in "$main" "$inst"; do
    name=${unit##*/}
    copy=$(checked_copy "$name" "$unit") || continue
    systemd-analyze security --offline=yes --man=no --threshold=10 \
        "$copy" >"$copy.security" 2>&1
    rc=$?
    grep 'Overall exposure' "$copy.security" | sed 's/^/# /'
    if [ "$rc" -eq 0 ] && grep -q 'Overall exposure' "$copy.security"; then
        ok "systemd-analyze security $name: exposure at most 1.0"
    else
        grep '✗' "$copy.security" | sed 's/^/# /'
        not_ok "systemd-analyze security $name: exposure at most 1.0"
    fi
done

# has UNIT LINE: the unit holds exactly this line.
has() {
    if grep -qxF -- "$2" "$1"; then
        ok "${1##*/}: $2"
    else
        not_ok "${1##*/}: $2"
    fi
}
# The ExecStart of the design, with the configured paths; systemd's %S
# and %t are /var/lib and /run.
has "$main" "ExecStart=$sbindir/stratad --config $sysconfdir/strata/stratad.conf \\"
has "$main" "    --data-dir %S/strata --socket %t/strata/stratad.sock \\"
has "$inst" "    --data-dir %S/strata/%i --socket %t/strata/%i.sock \\"
has "$main" "    --socket-group www-data"
# shellcheck disable=SC2016 # $MAINPID is systemd's
for line in Type=notify 'ExecReload=/bin/sh -c "kill -HUP $MAINPID"' \
    User=strata Group=strata SupplementaryGroups=www-data \
    StateDirectory=strata RuntimeDirectory=strata RuntimeDirectoryMode=0755 \
    RuntimeDirectoryPreserve=yes ProtectSystem=strict ProtectHome=yes \
    PrivateTmp=yes PrivateDevices=yes PrivateNetwork=yes NoNewPrivileges=yes \
    ProtectKernelTunables=yes ProtectKernelModules=yes ProtectKernelLogs=yes \
    ProtectControlGroups=yes RestrictAddressFamilies=AF_UNIX \
    RestrictNamespaces=yes LockPersonality=yes MemoryDenyWriteExecute=yes \
    SystemCallArchitectures=native CapabilityBoundingSet= UMask=0027 \
    Restart=on-failure; do
    has "$main" "$line"
done
has "$inst" "StateDirectory=strata/%i"

# LimitNOFILE and TimeoutStopSec: numbers, checked by size. The worker
# waits up to 10 s for requests in flight, then closes the engine.
nofile=$(sed -n 's/^LimitNOFILE=//p' "$main")
if [ -n "$nofile" ] && [ "$nofile" -ge 65536 ] 2>/dev/null; then
    ok "stratad.service: LimitNOFILE=$nofile >= 65536"
else
    not_ok "stratad.service: LimitNOFILE='$nofile' >= 65536"
fi
stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s$/\1/p' "$main")
if [ -n "$stop" ] && [ "$stop" -ge 30 ]; then
    ok "stratad.service: TimeoutStopSec=${stop}s covers the 10 s grace"
else
    not_ok "stratad.service: TimeoutStopSec='$stop' (seconds) >= 30"
fi

# The two units agree on everything but their paths and description.
service_settings() {
    sed -n '/^\[Service\]/,/^\[/p' "$1" | grep -v -e '^#' -e '^$' \
        -e '^ExecStart=' -e '^    --' -e '^StateDirectory='
}
if diff -u <(service_settings "$main") <(service_settings "$inst"); then
    ok "stratad.service and stratad@.service differ only in their paths"
else
    not_ok "stratad.service and stratad@.service differ only in their paths"
fi

[ "$failed" -eq 0 ]
