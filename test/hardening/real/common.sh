# Sourced by the real-program tests.  usage of each: NAME.sh PATH/libtcarena.so
# need PROGRAM...: skip (77) unless every program is installed.
# under_tcarena CMD...: runs CMD with the library preloaded, after checking
# that preloading it really puts it in the process.
set -eu
library=$(realpath "$1")
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

need()
{
    for program in "$@"; do
        command -v "$program" >/dev/null 2>&1 || { echo "skipped: $program is not installed"; exit 77; }
    done
}

under_tcarena()
{
    LD_PRELOAD="$library" "$@"
}

# same_output WHAT PLAIN PRELOADED: fails with a diff when the files differ.
same_output()
{
    if ! cmp -s "$2" "$3"; then
        echo "$1: output under tcarena differs from the plain run"
        diff "$2" "$3" | head -20
        exit 1
    fi
    echo "$1: same output with and without tcarena ($(wc -l <"$2") lines)"
}

LD_PRELOAD="$library" grep -q libtcarena /proc/self/maps ||
    { echo "LD_PRELOAD=$library does not load it"; exit 1; }
