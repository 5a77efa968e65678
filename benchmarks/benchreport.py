"""What the benchmark drivers share once runs are measured: the interleaved
rounds, medians, ratios to the best peer and to jemalloc, their geometric
means, the markdown tables, the chart and the JSON report."""

import datetime
import json
import math
import os
import platform
import statistics

import benchlib

REFERENCE_FOR_RSS = "jemalloc"


def run_interleaved(tests, chosen, rounds, run_one):
    """tests: ordered {name: description kept in the results}. For each test,
    runs every allocator once per round, interleaved, each round starting one
    allocator later and every other round in reverse (A B C, A C B, C A B,
    C B A, ...), so that a slow phase of the machine hits every allocator
    alike, none always runs last, and none always follows the same one (a
    run can leave the machine faster or slower for the next).
    run_one(test, allocator, library) returns a run: {"wall_s", "cpu_s",
    "rss_kib", ...} or {"error"}."""
    results = {}
    total = len(tests) * rounds * len(chosen)
    done = 0
    for name, description in tests.items():
        entry = results[name] = dict(description, allocators={a: {"runs": []} for a in chosen})
        order = list(chosen.items())
        for round_index in range(rounds):
            shift = round_index % len(order)
            this_round = order[shift:] + order[:shift]
            for allocator, library in this_round[::-1] if round_index % 2 else this_round:
                run = run_one(name, allocator, library)
                entry["allocators"][allocator]["runs"].append(run)
                done += 1
                benchlib.progress(f"[{done:4d}/{total}] {name:14s} round {round_index + 1}/"
                                  f"{rounds} {allocator:9s} {describe(run)}")
    return results


def describe(run):
    if "error" in run:
        return "FAILED " + run["error"]
    shown = (f"{run['wall_s']:7.3f} s wall {run['cpu_s']:7.3f} s cpu "
             f"{run['rss_kib'] / 1024:8.1f} MiB")
    if "score_s" in run and run["score_s"] != run["wall_s"]:
        shown += f"  score {run['score_s']:.4f}"
    return shown


def compute_medians(results, metric):
    """Medians per allocator; metric names the ranked figure (run[metric + "_s"])."""
    for entry in results.values():
        for record in entry["allocators"].values():
            good = [run for run in record["runs"] if "error" not in run]
            if len(good) == len(record["runs"]):
                record["median_s"] = statistics.median(run[metric + "_s"] for run in good)
                record["median_wall_s"] = statistics.median(run["wall_s"] for run in good)
                record["median_cpu_s"] = statistics.median(run["cpu_s"] for run in good)
                record["median_rss_kib"] = statistics.median(run["rss_kib"] for run in good)
            else:
                record["failed"] = next(run["error"] for run in record["runs"] if "error" in run)


def geometric_mean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def summarise(results, chosen):
    """Adds per-test ratios and returns the summary (geomeans, worst case, failures)."""
    peers = [a for a in chosen if a != benchlib.TCARENA]
    time_ratios = {a: [] for a in chosen}
    rss_ratios = {a: [] for a in chosen}
    for entry in results.values():
        records = entry["allocators"]
        peer_times = {p: records[p]["median_s"] for p in peers if "median_s" in records[p]}
        if peer_times:
            best = min(peer_times, key=peer_times.get)
            entry["best_peer"] = best
            for allocator, record in records.items():
                if "median_s" in record:
                    record["time_ratio_to_best_peer"] = record["median_s"] / peer_times[best]
                    time_ratios[allocator].append(record["time_ratio_to_best_peer"])
        reference = records.get(REFERENCE_FOR_RSS, {})
        if "median_rss_kib" in reference:
            for allocator, record in records.items():
                if "median_rss_kib" in record:
                    record["rss_ratio_to_jemalloc"] = (record["median_rss_kib"]
                                                       / reference["median_rss_kib"])
                    rss_ratios[allocator].append(record["rss_ratio_to_jemalloc"])
    summary = {"time_geomean_ratio_to_best_peer": {a: geometric_mean(v) for a, v in time_ratios.items()},
               "rss_geomean_ratio_to_jemalloc": {a: geometric_mean(v) for a, v in rss_ratios.items()}}
    if benchlib.TCARENA in chosen:
        tcarena = [(entry["allocators"][benchlib.TCARENA].get("time_ratio_to_best_peer"), name)
                   for name, entry in results.items()]
        measured = [pair for pair in tcarena if pair[0] is not None]
        if measured:
            summary["tcarena_worst"] = dict(zip(("ratio", "workload"), max(measured)))
        summary["tcarena_failures"] = [name for name, entry in results.items()
                                       if "failed" in entry["allocators"][benchlib.TCARENA]]
    return summary


def print_table(results, names, value_key, show_value, ratio_key, bold_best):
    """One markdown table: a row per test, show_value(median) (ratio) per allocator."""
    print("| workload | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for test, entry in results.items():
        cells = []
        for allocator in names:
            record = entry["allocators"][allocator]
            if value_key not in record:
                cells.append("FAIL")
                continue
            text = show_value(record[value_key])
            if bold_best and entry.get("best_peer") == allocator:
                text = f"**{text}**"
            ratio = record.get(ratio_key)
            cells.append(text + (f" ({ratio:.2f})" if ratio is not None else ""))
        print(f"| {test} | " + " | ".join(cells) + " |")


def print_tables(results, chosen, summary, caption):
    """Two markdown tables: the ranked time (caption says what it is) and peak RSS."""
    names = list(chosen)
    print(f"\nTime: {caption} (ratio to the best peer); **bold** = best peer\n")
    print_table(results, names, "median_s", "{:.3f}".format, "time_ratio_to_best_peer", True)
    geomeans = summary["time_geomean_ratio_to_best_peer"]
    print("| **geomean ratio** | " + " | ".join(f"{geomeans[a]:.2f}" for a in names) + " |")
    print("\nPeak RSS: median MiB (ratio to jemalloc)\n")
    print_table(results, names, "median_rss_kib", lambda kib: f"{kib / 1024:.1f}",
                "rss_ratio_to_jemalloc", False)
    geomeans = summary["rss_geomean_ratio_to_jemalloc"]
    print("| **geomean ratio** | " + " | ".join(f"{geomeans[a]:.2f}" for a in names) + " |")


def print_goals(summary, time_goal, worst_goal=None):
    """tcarena's geomean, worst test and RSS against the project's goals for them."""
    if "tcarena_worst" not in summary:
        return
    time_geomean = summary["time_geomean_ratio_to_best_peer"][benchlib.TCARENA]
    rss_geomean = summary["rss_geomean_ratio_to_jemalloc"].get(benchlib.TCARENA, float("nan"))
    worst = summary["tcarena_worst"]
    verdict = lambda ok: "met" if ok else "NOT met"  # noqa: E731
    print(f"\ntcarena time geomean / best peer: {time_geomean:.3f} (goal <= {time_goal:.2f}: "
          f"{verdict(time_geomean <= time_goal)})")
    print(f"tcarena worst workload: {worst['workload']} at {worst['ratio']:.2f}x the best peer"
          + (f" (goal <= {worst_goal:.2f}: {verdict(worst['ratio'] <= worst_goal)})"
             if worst_goal else ""))
    print(f"tcarena peak RSS geomean / jemalloc: {rss_geomean:.3f} (goal <= 1.0: "
          f"{verdict(rss_geomean <= 1.0)})")
    if summary["tcarena_failures"]:
        print("tcarena FAILED on: " + ", ".join(summary["tcarena_failures"]))


def write_chart(results, chosen, path, time_label):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib import ticker
    except ImportError:
        benchlib.progress("benchmarks: no matplotlib (apt-get install python3-matplotlib); no chart")
        return False
    tests = list(results)
    names = list(chosen)
    figure, (time_axes, rss_axes) = plt.subplots(2, 1, figsize=(max(14, len(tests) * 0.6), 9),
                                                 sharex=True)
    width = 0.8 / len(names)
    colours = plt.get_cmap("tab10" if len(names) <= 10 else "tab20").colors
    for index, allocator in enumerate(names):
        positions = [t + (index - (len(names) - 1) / 2) * width for t in range(len(tests))]
        records = [results[t]["allocators"][allocator] for t in tests]
        time_axes.bar(positions, [r.get("time_ratio_to_best_peer", 0) for r in records], width,
                      label=allocator, color=colours[index % len(colours)])
        rss_axes.bar(positions, [r.get("rss_ratio_to_jemalloc", 0) for r in records], width,
                     label=allocator, color=colours[index % len(colours)])
    for axes, label in ((time_axes, f"{time_label} / best peer"), (rss_axes, "peak RSS / jemalloc")):
        axes.axhline(1.0, color="black", linewidth=0.8)
        axes.set_ylabel(label + " (lower is better)")
        axes.set_yscale("log")
        axes.yaxis.set_major_formatter(ticker.FormatStrFormatter("%.2g"))
        axes.yaxis.set_minor_formatter(ticker.FormatStrFormatter("%.2g"))
        axes.grid(axis="y", which="both", alpha=0.3)
    time_axes.legend(ncol=min(len(names), 8))
    rss_axes.set_xticks(range(len(tests)))
    rss_axes.set_xticklabels(tests, rotation=30, ha="right")
    figure.suptitle(f"tcarena and peers: median {time_label} and peak RSS, ratios (log scale)")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    return True


def machine_description():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo
                         if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": model, "cpus": os.cpu_count(), "kernel": platform.release(),
            "host": platform.node()}


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def header(date, rounds, extra, cpus=None):
    """The line above the tables: when, how many rounds, what else matters."""
    print(f"benchmarks: {date}, {rounds} round(s), {extra}, {cpus or os.cpu_count()} CPUs")


def write_report(out_dir, stem, report, chosen, time_label):
    """Writes STEM.json (the report: every run, medians, ratios, machine,
    versions) and STEM.png (the chart) to out_dir."""
    os.makedirs(out_dir, exist_ok=True)
    json_path = os.path.join(out_dir, stem + ".json")
    with open(json_path, "w") as json_file:
        json.dump(dict(report, machine=machine_description(),
                       allocators={a: lib for a, lib in chosen.items()}), json_file, indent=1)
    chart_path = os.path.join(out_dir, stem + ".png")
    charted = write_chart(report["workloads"], chosen, chart_path, time_label)
    benchlib.progress("benchmarks: wrote " + json_path + (", " + chart_path if charted else ""))


def any_failed(results):
    return any("failed" in record for entry in results.values()
               for record in entry["allocators"].values())
