#!/bin/sh
# TEST DOUBLE: a stand-in for elan's official installer script, served to `llemma-prove setup lean` from a
# local URL. Modelled on leanprover/elan's elan-init.sh (and the flags of elan-init, setup_mode.rs):
# without -y and without a terminal it refuses ("Unable to run interactively"), as the real one does when
# its stdout is not a tty; flags it does not know are refused; it needs curl, like the real one. Instead
# of downloading elan from GitHub it lays out $ELAN_HOME/bin with `elan` and a `lake` that runs the
# stand-in lake (tests/lean/fake_lake.py, via $FAKE_ELAN_PYTHON and $FAKE_ELAN_LAKE). With
# `--default-toolchain none` no toolchain is installed. Every call is logged to $FAKE_ELAN_LOG when set.
set -u

if [ -n "${FAKE_ELAN_LOG:-}" ]; then
    printf '%s\n' "$*" >> "$FAKE_ELAN_LOG"
fi

need_cmd() {
    if ! command -v "$1" > /dev/null 2>&1; then
        echo "elan: need '$1' (command not found)" 1>&2
        exit 1
    fi
}
need_cmd curl
need_cmd mkdir
need_cmd chmod

yes=no
toolchain=stable
while [ $# -gt 0 ]; do
    case "$1" in
        -y) yes=yes ;;
        -v|--verbose|--no-modify-path) ;;
        --default-toolchain)
            if [ $# -lt 2 ]; then echo "error: --default-toolchain needs a value" 1>&2; exit 1; fi
            toolchain="$2"; shift ;;
        *) echo "error: Found argument '$1' which wasn't expected" 1>&2; exit 1 ;;
    esac
    shift
done

printf '%s\n' 'info: downloading installer' 1>&2
if [ "$yes" = no ] && [ ! -t 1 ]; then
    echo "elan: Unable to run interactively. Run with -y to accept defaults, --help for additional options" 1>&2
    exit 1
fi

home="${ELAN_HOME:-$HOME/.elan}"
mkdir -p "$home/bin"
printf '#!/bin/sh\necho "elan 4.1.2 (fake)"\n' > "$home/bin/elan"
printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$FAKE_ELAN_PYTHON" "$FAKE_ELAN_LAKE" > "$home/bin/lake"
chmod 755 "$home/bin/elan" "$home/bin/lake"
if [ "$toolchain" != none ]; then
    mkdir -p "$home/toolchains/$toolchain"
fi
echo "info: default toolchain set to '$toolchain'"
echo "elan is installed now. Great!"
