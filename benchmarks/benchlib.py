"""What benchmarks/run and benchmarks/instr_count share: where things are,
how to build them, and which allocators to compare."""

import json
import os
import subprocess
import sys

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
BUILD = os.path.join(REPO, "build")
PROGRAMS = ["fastpath", "batch", "larson", "prodcons", "falseshare", "churn",
            "realloc", "mixed", "frag", "longlived", "bintree", "strhash"]

PEER_LIB_DIR = "/usr/lib/x86_64-linux-gnu"
# name -> (library to preload or None for the C library's own malloc, Debian package)
PEERS = {
    "glibc": (None, "libc6"),
    "jemalloc": (PEER_LIB_DIR + "/libjemalloc.so.2", "libjemalloc2"),
    "tcmalloc": (PEER_LIB_DIR + "/libtcmalloc_minimal.so.4", "libtcmalloc-minimal4"),
    "mimalloc": (PEER_LIB_DIR + "/libmimalloc.so.2", "libmimalloc2.0"),
}
TCARENA = "tcarena"


def progress(message):
    print(message, file=sys.stderr, flush=True)


def _tcarena_library_target():
    """The shared library's path relative to the build folder (its ninja target)."""
    targets = json.loads(subprocess.run(["meson", "introspect", BUILD, "--targets"],
                                        check=True, capture_output=True, text=True).stdout)
    for target in targets:
        if target["name"] == "tcarena" and target["type"] == "shared library":
            return os.path.relpath(target["filename"][0], BUILD)
    sys.exit("benchmarks: no tcarena shared library in the meson build")


def build(tcarena_library=None):
    """Sets up ./build if missing and builds the workloads and, unless another
    tcarena_library is given, libtcarena.so (only those targets, so an
    unrelated broken test does not stop a run). Returns libtcarena.so's path."""
    if not os.path.exists(os.path.join(BUILD, "build.ninja")):
        progress("benchmarks: meson setup build")
        subprocess.run(["meson", "setup", BUILD, REPO], check=True, stdout=subprocess.DEVNULL)
    library = None if tcarena_library else _tcarena_library_target()
    targets = ([library] if library else []) + ["benchmarks/" + program
                                                for program in PROGRAMS + ["measure"]]
    progress("benchmarks: ninja -C build " + " ".join(targets))
    result = subprocess.run(["ninja", "-C", BUILD] + targets, capture_output=True, text=True)
    if result.returncode:
        sys.exit("benchmarks: build failed\n" + result.stdout[-4000:] + result.stderr[-2000:])
    return os.path.abspath(tcarena_library) if tcarena_library else os.path.join(BUILD, library)


def program_path(program):
    return os.path.join(BUILD, "benchmarks", program)


def allocators(tcarena_library, wanted=None):
    """Ordered {name: library or None} of the allocators present; says which are skipped."""
    chosen = {}
    for name, (library, package) in PEERS.items():
        if wanted and name not in wanted:
            continue
        if library and not os.path.exists(library):
            progress(f"benchmarks: skipping {name}: {library} is missing "
                     f"(apt-get install {package})")
            continue
        chosen[name] = library
    if not wanted or TCARENA in wanted:
        chosen[TCARENA] = tcarena_library
    return chosen


def environment_for(library):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if library:
        env["LD_PRELOAD"] = library
    return env


def peer_versions():
    versions = {}
    for name, (_, package) in PEERS.items():
        result = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package],
                                capture_output=True, text=True)
        versions[name] = result.stdout.strip() if result.returncode == 0 else "not installed"
    versions[TCARENA] = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                                       capture_output=True, text=True).stdout.strip()
    return versions
