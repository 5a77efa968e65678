"""What the benchmark drivers share: where things are, how to build them,
which allocators to compare, and how one measured run is launched."""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
BUILD = os.path.join(REPO, "build")  # --build changes it
PROGRAMS = ["fastpath", "batch", "larson", "prodcons", "falseshare", "churn",
            "realloc", "mixed", "frag", "longlived", "bintree", "strhash",
            "bigbuf", "remote", "threadchurn", "medium", "reallocgrow", "massfree", "holes"]

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


def build(tcarena_library=None, programs=PROGRAMS):
    """Sets up ./build if missing and builds the measure launcher, the given
    workloads and, unless another tcarena_library is given, libtcarena.so
    (only those targets, so an unrelated broken test does not stop a run).
    Returns libtcarena.so's path."""
    if not os.path.exists(os.path.join(BUILD, "build.ninja")):
        progress("benchmarks: meson setup build")
        subprocess.run(["meson", "setup", BUILD, REPO], check=True, stdout=subprocess.DEVNULL)
    library = None if tcarena_library else _tcarena_library_target()
    targets = ([library] if library else []) + ["benchmarks/" + program
                                                for program in list(programs) + ["measure"]]
    progress("benchmarks: ninja -C build " + " ".join(targets))
    result = subprocess.run(["ninja", "-C", BUILD] + targets, capture_output=True, text=True)
    if result.returncode:
        sys.exit("benchmarks: build failed\n" + result.stdout[-4000:] + result.stderr[-2000:])
    return os.path.abspath(tcarena_library) if tcarena_library else os.path.join(BUILD, library)


def program_path(program):
    return os.path.join(BUILD, "benchmarks", program)


def peer_option(text):
    """--peer NAME=PATH.so[@VERSION] -> (name, absolute path, version label);
    without @VERSION the label is the library's file name."""
    name, _, rest = text.partition("=")
    path, version = rest, None
    if "@" in rest and "/" not in rest.rpartition("@")[2]:
        path, _, version = rest.rpartition("@")
    if not re.fullmatch(r"[A-Za-z0-9_.+-]+", name) or not path:
        raise argparse.ArgumentTypeError(f"'{text}' is not NAME=PATH.so[@VERSION]")
    if name in PEERS or name == TCARENA:
        raise argparse.ArgumentTypeError(f"'{name}' is already an allocator's name")
    if not os.path.isfile(path):
        raise argparse.ArgumentTypeError(f"{path}: no such library")
    return name, os.path.abspath(path), version or os.path.basename(path)


def add_common_options(parser, outputs=None):
    """--build, --allocators, --tcarena and --peer, as every driver takes
    them, and --out where a driver writes outputs (named for the help)."""
    parser.add_argument("--build", metavar="DIR", help="the meson build folder to build and "
                        "run from (default ./build, set up if missing)")
    if outputs:
        parser.add_argument("--out", metavar="DIR", help=f"folder for {outputs} (default "
                            "BUILD/bench)")
    parser.add_argument("--allocators", help="comma-separated subset of "
                        + ",".join(list(PEERS) + [TCARENA]) + " and the --peer names")
    parser.add_argument("--tcarena", metavar="LIB", help="preload this libtcarena.so instead of "
                        "building build/libtcarena.so")
    parser.add_argument("--peer", metavar="NAME=PATH.so[@VERSION]", type=peer_option,
                        action="append", default=[],
                        help="one more allocator to compare, preloaded like the Debian peers "
                        "(repeatable); VERSION labels it in the report, else the file name")


def use_options(options):
    """Applies --build and --out; call once the options are parsed."""
    global BUILD
    BUILD = os.path.abspath(options.build) if options.build else BUILD
    if "out" in options:
        options.out = options.out or os.path.join(BUILD, "bench")
    return options


def allocators(tcarena_library, options):
    """Ordered {name: library or None}: the Debian peers present, the --peer
    libraries, tcarena; narrowed by --allocators. Says which are skipped."""
    wanted = set(options.allocators.split(",")) if options.allocators else None
    extra = {name: path for name, path, _ in options.peer}
    if len(extra) < len(options.peer):
        sys.exit("benchmarks: two --peer options share a name")
    unknown = wanted - set(PEERS) - set(extra) - {TCARENA} if wanted else None
    if unknown:
        sys.exit("benchmarks: --allocators names no such allocator: " + ",".join(sorted(unknown)))
    chosen = {}
    for name, (library, package) in PEERS.items():
        if wanted and name not in wanted:
            continue
        if library and not os.path.exists(library):
            progress(f"benchmarks: skipping {name}: {library} is missing "
                     f"(apt-get install {package})")
            continue
        chosen[name] = library
    chosen.update({name: path for name, path in extra.items() if not wanted or name in wanted})
    if not wanted or TCARENA in wanted:
        chosen[TCARENA] = tcarena_library
    return chosen


def environment_for(library):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if library:
        env["LD_PRELOAD"] = library
    return env


def peer_versions(options):
    versions = {}
    for name, (_, package) in PEERS.items():
        result = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package],
                                capture_output=True, text=True)
        versions[name] = result.stdout.strip() if result.returncode == 0 else "not installed"
    versions.update({name: version for name, _, version in options.peer})
    versions[TCARENA] = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                                       capture_output=True, text=True).stdout.strip()
    return versions


class Measured:
    """One run of a command through the measure launcher (see measure.c for
    why), with library preloaded (None: nothing), started at once; wait()
    collects it. A server is started, used, told to stop, then waited for."""

    def __init__(self, command, library, cwd=None, stdin_path=None, environment=None):
        self.workdir = tempfile.TemporaryDirectory()
        self.measured = os.path.join(self.workdir.name, "measured")
        self.out_path = os.path.join(self.workdir.name, "out")
        self.err_path = os.path.join(self.workdir.name, "err")
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err, \
                open(stdin_path or os.devnull) as stdin:
            self.launcher = subprocess.Popen([program_path("measure"), self.measured,
                                              library or "-"] + command, stdin=stdin, stdout=out,
                                             stderr=err, cwd=cwd, env=environment,
                                             start_new_session=True)

    def wait(self, timeout):
        """{"wall_s", "rss_kib", "cpu_s", "returncode", "stdout", "stderr"}, or
        {"error"} when the run was killed at the timeout or could not report."""
        with self.workdir:
            watchdog = threading.Timer(timeout, os.killpg, (self.launcher.pid, signal.SIGKILL))
            watchdog.start()
            _, status, _ = os.wait4(self.launcher.pid, 0)
            timed_out = not watchdog.is_alive()
            watchdog.cancel()
            self.launcher.returncode = returncode = os.waitstatus_to_exitcode(status)  # reaped
            with open(self.out_path, errors="replace") as out, \
                    open(self.err_path, errors="replace") as err:
                stdout, stderr = out.read(), err.read()
            if timed_out:
                return {"error": f"killed after the {timeout:.0f} s timeout"}
            if not os.path.exists(self.measured):
                return {"error": failure(returncode, stdout, stderr)}
            with open(self.measured) as measured_file:
                wall, rss, cpu = measured_file.read().split()
        return {"wall_s": float(wall), "rss_kib": int(rss), "cpu_s": float(cpu),
                "returncode": returncode, "stdout": stdout, "stderr": stderr}


def measure(command, library, timeout, **where):
    """Runs command once through the launcher; Measured.wait()'s result.
    where: cwd, stdin_path, environment, as Measured takes them."""
    return Measured(command, library, **where).wait(timeout)


def failure(returncode, stdout, stderr):
    """A failed run's reason, for the tables and the JSON."""
    why = f"killed by signal {returncode - 128}" if returncode > 128 else f"exit {returncode}"
    return why + ": " + (stderr or stdout).strip()[-300:]
