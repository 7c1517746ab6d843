#!/usr/bin/env python3
"""Measure the peers and the end-to-end figures, then print OUR figures, the PEERS' and the RATIOS
with each target's PASS/MISS. Called by scripts/bench, which has built everything and run
gguf-bench (Google Benchmark JSON) on the same generated files.

Everything here runs with the files in the page cache (scripts/bench reads them first).
"""
import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import time

GIB = 1 << 30


def log(msg):
    print(f"==> {msg}", file=sys.stderr, flush=True)


def gbench_medians(path):
    """{benchmark run name: median aggregate} from Google Benchmark's JSON."""
    with open(path) as f:
        data = json.load(f)
    out = {}
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") == "median":
            out[b["run_name"]] = b
    return out


def ms(b):
    """Real time of a benchmark entry in milliseconds."""
    factor = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]]
    return b["real_time"] * factor


def find(medians, prefix):
    for name, b in medians.items():
        if name.startswith(prefix):
            return b
    return None


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def timed(cmd, repeats):
    """Median wall time in seconds of `cmd` (output discarded)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gbench_gbps(gguf_bench, name):
    """GB/s of one Google Benchmark run of the benchmark called `name`, in a fresh process."""
    out = subprocess.run([gguf_bench, f"--benchmark_filter=^{name}$", "--benchmark_format=json"], check=True,
                         capture_output=True, text=True)
    runs = [b for b in json.loads(out.stdout)["benchmarks"] if b.get("run_type") == "iteration"]
    return runs[0]["bytes_per_second"] / 1e9


def interleaved_hashing(gguf_bench, data_path, rounds):
    """Our XXH3 passes and xxhsum, run in turns so that a change in the machine's load hits both alike.
    Returns median GB/s of each."""
    size = os.path.getsize(data_path)
    series = {"threaded": [], "one_thread": [], "xxhsum": []}
    for _ in range(rounds):
        series["threaded"].append(gbench_gbps(gguf_bench, "BM_ours_xxh3_tensors/threaded/iterations:3/real_time"))
        series["xxhsum"].append(size / timed(["xxhsum", "-H3", data_path], 1) / 1e9)
        series["one_thread"].append(gbench_gbps(gguf_bench, "BM_ours_xxh3_tensors/one_thread/iterations:3/real_time"))
    return {k: statistics.median(v) for k, v in series.items()}


def interleaved_processes(cmds, rounds):
    """Each command of `cmds` ({label: argv}) run once per round, in turns, `rounds` rounds.
    Returns {label: (median wall ms, median CPU ms)}: CPU = user + system time of the process, which a
    loaded machine inflates less than the wall time."""
    wall = {k: [] for k in cmds}
    cpu = {k: [] for k in cmds}
    for _ in range(rounds):
        for label, cmd in cmds.items():
            start = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, _, usage = os.wait4(proc.pid, 0)
            wall[label].append((time.perf_counter() - start) * 1e3)
            cpu[label].append((usage.ru_utime + usage.ru_stime) * 1e3)
    return {k: (statistics.median(wall[k]), statistics.median(cpu[k])) for k in cmds}


def cpu_ms(b):
    """CPU time of a benchmark entry in milliseconds."""
    factor = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]]
    return b["cpu_time"] * factor


def max_rss_kib(cmd):
    """Peak resident set of `cmd` in KiB, from GNU time."""
    out = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, check=True, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    return int(out.stderr.strip().splitlines()[-1])


def own_peak_kib(cmd):
    """Exit status and peak resident set (VmHWM, KiB) of the process running `cmd` itself, not of its
    children (the readers a matrix starts), sampled every 10 ms."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.01)
    return proc.returncode, peak


def matrix_run(gguf_crossval, corpus, out):
    """One `matrix` run: wall seconds, our process's peak (KiB), each reader's time (s, from matrix.json's
    totals: a peer batch's time is shared among its files) and the number of files."""
    start = time.monotonic()
    rc, peak = own_peak_kib([gguf_crossval, "matrix", "-o", out, corpus])
    wall = time.monotonic() - start
    if rc not in (0, 1):  # 1: our reader was wrong on a file, still a complete run
        return None
    with open(os.path.join(out, "matrix.json")) as f:
        m = json.load(f)
    readers = {name: t["duration_ms"] / 1000 for name, t in m["totals"].items()}
    return wall, peak, readers, len(m["files"])


def crossval_stages(gguf_crossval, work):
    """Per-stage wall times of `full-crossval` (mini fixtures and tiny models), from its reports."""
    help_run = subprocess.run([gguf_crossval, "crossval", "--help"], capture_output=True)
    if help_run.returncode != 0:
        return None
    out = os.path.join(work, "crossval")
    subprocess.run([gguf_crossval, "full-crossval", "--out", out], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    rows = []
    for path in sorted(glob.glob(os.path.join(out, "reports", "*.json"))):
        with open(path) as f:
            report = json.load(f)
        stages = {s["name"]: (s["duration_ms"] if s.get("ran") else None) for s in report.get("stages", [])}
        rows.append((os.path.basename(report.get("model", path)), stages))
    return rows


def openssl_sha256_gbps():
    """OpenSSL's SHA-256 throughput on this machine in GB/s (16 MiB blocks, 2 s), None if it cannot be run."""
    try:
        out = subprocess.run(["openssl", "speed", "-evp", "sha256", "-bytes", str(16 << 20), "-seconds", "2"],
                             capture_output=True, text=True, check=True).stdout
        return float(out.strip().splitlines()[-1].split()[-1].rstrip("k")) * 1000 / 1e9
    except (OSError, subprocess.CalledProcessError, ValueError, IndexError):
        return None


def scale_row(gguf_crossval, path, work):
    """The scale table's figures for one model: a plain read, validate --data and crossval (stages timed),
    with their peaks."""
    size = os.path.getsize(path)
    read_s = timed(["cat", path], 3)
    validate_cmd = [gguf_crossval, "validate", "--data", "--json", path]
    validate_s = timed(validate_cmd, 3)
    validate_rss = max_rss_kib(validate_cmd)
    report = os.path.join(work, "scale-report.json")
    crossval_cmd = [gguf_crossval, "crossval", "--model", path, "--report", report]
    subprocess.run(crossval_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # warm-up
    start = time.perf_counter()
    rc, own_peak = own_peak_kib(crossval_cmd)
    crossval_s = time.perf_counter() - start
    tree_peak = max_rss_kib(crossval_cmd)  # GNU time: the largest process of the tree (the probe's, here)
    with open(report) as f:
        stages = {st["name"]: (st["duration_ms"] if st.get("ran") else None) for st in json.load(f).get("stages", [])}
    return {"size": size, "read_s": read_s, "validate_s": validate_s, "validate_rss": validate_rss,
            "crossval_rc": rc, "crossval_s": crossval_s, "crossval_own_peak": own_peak, "crossval_tree_peak": tree_peak,
            "stages": stages}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gbench", required=True, help="gguf-bench JSON output")
    ap.add_argument("--files", required=True, help="directory of the generated files")
    ap.add_argument("--gguf-crossval", required=True)
    ap.add_argument("--gguf-bench", required=True)
    ap.add_argument("--gguf-py", required=True, help="the reference's gguf-py directory")
    ap.add_argument("--hf-gguf", required=True, help="the installed @huggingface/gguf package directory")
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--work", required=True, help="scratch directory")
    ap.add_argument("--real-vocab", required=True, help="the pinned bundle's models/ggml-vocab-llama-bpe.gguf")
    ap.add_argument("--ggml-gguf-init", required=True, help="ggml's gguf_init_from_file as a whole process")
    args = ap.parse_args()

    here = os.path.dirname(os.path.abspath(__file__))
    med = gbench_medians(args.gbench)
    files = {n: os.path.join(args.files, n + ".gguf") for n in ("large_vocab", "many_tensors", "data_1g")}
    data_size = os.path.getsize(files["data_1g"])

    # ---- peers: parse ----------------------------------------------------------------------------
    peers = {}
    for name, repeats_py in (("large_vocab", 3), ("many_tensors", 5)):
        log(f"gguf-py GGUFReader on {name} ({repeats_py} runs)")
        peers[("gguf-py", name)] = run_json([args.python, os.path.join(here, "peer_parsers", "gguf_py_parse.py"),
                                             args.gguf_py, files[name], str(repeats_py)])["median_ms"]
        log(f"@huggingface/gguf on {name} (5 runs)")
        try:
            peers[("hf", name)] = run_json(["node", os.path.join(here, "peer_parsers", "hf_gguf_parse.cjs"), args.hf_gguf,
                                            files[name], "5"])["median_ms"]
        except subprocess.CalledProcessError as e:
            log(f"@huggingface/gguf failed on {name}: {e.stderr.strip()}")
            peers[("hf", name)] = None

    # ---- peers: hashing, end to end --------------------------------------------------------------
    log("XXH3 over the 1 GiB file: ours (threaded, one thread) and xxhsum -H3 in turns (7 rounds)")
    hashing = interleaved_hashing(args.gguf_bench, files["data_1g"], 7)
    log("sha256sum on the 1 GiB file (3 runs)")
    sha256sum_s = timed(["sha256sum", files["data_1g"]], 3)
    log("gguf-crossval validate --data on the 1 GiB file (3 runs, then once under /usr/bin/time)")
    validate_cmd = [args.gguf_crossval, "validate", "--data", "--json", files["data_1g"]]
    validate_s = timed(validate_cmd, 3)
    validate_rss = max_rss_kib(validate_cmd)
    xxhsum_rss = max_rss_kib(["xxhsum", "-H3", files["data_1g"]])

    log("whole processes on the real Llama 3 tokenizer: validate and ggml's reader, in turns (21 rounds)")
    procs = interleaved_processes({"validate": [args.gguf_crossval, "validate", args.real_vocab],
                                   "ggml": [args.ggml_gguf_init, args.real_vocab]}, 21)
    mini = os.path.join(args.work, "mini.gguf")
    subprocess.run([args.gguf_crossval, "gen-mini-gguf", "--output", mini], check=True, stdout=subprocess.DEVNULL)
    log("crossval on the mini fixture, both reference stages (1 warm-up, then 15 runs)")
    crossval_cmd = [args.gguf_crossval, "crossval", "--model", mini, "--report", os.path.join(args.work, "r.json")]
    subprocess.run(crossval_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    crossval_mini = interleaved_processes({"crossval": crossval_cmd}, 15)["crossval"]

    log("crossval stages (full-crossval on the fixture set)")
    stages = crossval_stages(args.gguf_crossval, args.work)

    log("matrix over the conformance corpus (gen-corpus; 3 runs) and over the bundle's vocabulary files (1 run)")
    corpus = os.path.join(args.work, "corpus")
    subprocess.run([args.gguf_crossval, "gen-corpus", "--out", corpus], check=True, stdout=subprocess.DEVNULL)
    corpus_runs = [matrix_run(args.gguf_crossval, corpus, os.path.join(args.work, f"matrix-{i}")) for i in range(3)]
    corpus_runs = [r for r in corpus_runs if r is not None]
    vocab_dir = os.path.join(args.work, "vocab")
    os.makedirs(vocab_dir)
    vocab_files = sorted(glob.glob(os.path.join(os.path.dirname(args.real_vocab), "*.gguf")))
    for v in vocab_files:
        subprocess.run(["cp", v, vocab_dir], check=True)
    largest_vocab = max((os.path.getsize(v) for v in vocab_files), default=0)
    vocab_run = matrix_run(args.gguf_crossval, vocab_dir, os.path.join(args.work, "matrix-vocab"))

    scale_paths = [os.path.join(args.files, n) for n in ("scale_100m.gguf", "scale_500m.gguf", "scale_1g.gguf",
                                                          "scale_2g.gguf")]
    scale_rows = []
    for path in scale_paths:
        if not os.path.exists(path):
            continue
        log(f"scale: {os.path.basename(path)}: cat, validate --data (3 runs each), crossval (stages timed)")
        scale_rows.append((os.path.basename(path), scale_row(args.gguf_crossval, path, args.work)))

    # ---- the table -------------------------------------------------------------------------------
    gbps = lambda b: b["bytes_per_second"] / 1e9 if b else None  # noqa: E731
    fmt_ms = lambda v: f"{v:10.2f} ms" if v is not None else "   (failed)"  # noqa: E731
    lines = []
    p = lines.append
    p("## Metadata parse (median; ours and the reference in-process, Python and Node timed inside the process)")
    p("")
    p("| file | ours: gguf::open | ours: gguf::parse (buffer) | reference gguf_init_from_file | reference gguf_init_from_buffer"
      " | gguf-py GGUFReader | @huggingface/gguf | reference / ours | gguf-py / ours | hf / ours |")
    p("|---|---|---|---|---|---|---|---|---|---|")
    parse_ratio = {}
    for name in ("large_vocab", "many_tensors"):
        ours = find(med, f"BM_ours_open/{name}")
        ours_buf = find(med, f"BM_ours_parse_buffer/{name}")
        ref = find(med, f"BM_reference_init_from_file/{name}")
        ref_buf = find(med, f"BM_reference_init_from_buffer/{name}")
        o = ms(ours)
        r = ms(ref) if ref else None
        py = peers[("gguf-py", name)]
        hf = peers[("hf", name)]
        parse_ratio[name] = r / o if r else None
        ratio = lambda v: f"{v / o:.1f}x" if v else "n/a"  # noqa: E731
        p(f"| {name} | {fmt_ms(o)} | {fmt_ms(ms(ours_buf))} | {fmt_ms(r)} | {fmt_ms(ms(ref_buf) if ref_buf else None)}"
          f" | {fmt_ms(py)} | {fmt_ms(hf)} | {ratio(r)} | {ratio(py)} | {ratio(hf)} |")
    p("")
    p("## The real Llama 3 tokenizer (models/ggml-vocab-llama-bpe.gguf of the pinned bundle, 7.8 MB)")
    p("")
    p("In-process: Google Benchmark medians of 5 repetitions, wall and CPU time. The lower bound maps the file and"
      " walks every length-prefixed field with no check at all. Whole processes: 21 runs each, in turns, medians.")
    p("")
    p("| what | wall | CPU | vs lower bound (wall) | ggml / ours (wall) | ggml / ours (CPU) |")
    p("|---|---|---|---|---|---|")
    lb = find(med, "BM_lower_bound_walk/real_vocab")
    rv_open = find(med, "BM_ours_open/real_vocab")
    rv_buf = find(med, "BM_ours_parse_buffer/real_vocab")
    rv_ref = find(med, "BM_reference_init_from_file/real_vocab")
    for label, b in (("lower bound: map + walk, no checks", lb), ("ours: gguf::open (every check)", rv_open),
                     ("ours: gguf::parse of a buffer", rv_buf), ("ggml: gguf_init_from_file", rv_ref)):
        vs_ggml = (f"{ms(rv_ref) / ms(b):.1f}x | {cpu_ms(rv_ref) / cpu_ms(b):.1f}x"
                   if b is not rv_ref and b is not lb else "| ")
        p(f"| {label} | {ms(b):.2f} ms | {cpu_ms(b):.2f} ms | {ms(b) / ms(lb):.2f}x | {vs_ggml} |")
    vw, vc = procs["validate"]
    gw, gc = procs["ggml"]
    p(f"| whole process: gguf-crossval validate | {vw:.2f} ms | {vc:.2f} ms | | {gw / vw:.1f}x | {gc / vc:.1f}x |")
    p(f"| whole process: ggml gguf_init_from_file (bench/peer_parsers/ggml_gguf_init.c) | {gw:.2f} ms | {gc:.2f} ms | | | |")
    p("")
    u_ours, u_simd = find(med, "BM_ours_utf8/real_vocab"), find(med, "BM_simdjson_utf8/real_vocab")
    if u_ours:
        p("UTF-8 validation alone, on the tokenizer's text (every string of the file joined), in-process:")
        p("")
        p("| validator | time | rate | its time / ours |")
        p("|---|---|---|---|")
        for label, b in (("ours: gguf::is_valid_utf8", u_ours), ("simdjson::validate_utf8 (libsimdjson, Debian)", u_simd)):
            if b:
                ratio = f"{b['real_time'] / u_ours['real_time']:.2f}x" if b is not u_ours else ""
                p(f"| {label} | {ms(b) * 1e3:.0f} us | {b['bytes_per_second'] / 1e9:.1f} GB/s | {ratio} |")
        p("")
    p("## Hashing the 1 GiB file (page cache warm for every run)")
    p("")
    ours_full = find(med, "BM_ours_sha256_and_xxh3")
    seq = find(med, "BM_sequential_read")
    xxhsum_gbps = hashing["xxhsum"]
    p("Our XXH3 passes and xxhsum ran in turns, 7 rounds, medians. Other rows: Google Benchmark medians of 5 repetitions, or medians of 3 process runs.")
    p("")
    p("| what | GB/s | vs xxhsum -H3 |")
    p("|---|---|---|")
    for label, v in (("ours: XXH3-64 per tensor, read-ahead thread (gguf::hash_file's default)", hashing["threaded"]),
                     ("ours: XXH3-64 per tensor, one thread", hashing["one_thread"]),
                     ("xxhsum -H3 (whole file, process wall time)", xxhsum_gbps),
                     ("ours: SHA-256 of the file + XXH3-64 per tensor (validate --data's work)", gbps(ours_full)),
                     ("sha256sum (whole file, process wall time)", data_size / sha256sum_s / 1e9),
                     ("gguf-crossval validate --data --json (process wall time)", data_size / validate_s / 1e9),
                     ("plain sequential read(), 1 MiB buffer (the machine's limit)", gbps(seq))):
        p(f"| {label} | {v:.2f} | {v / xxhsum_gbps:.2f}x |")
    p("")
    p("## Peak memory (max RSS, GNU time)")
    p("")
    p("| command | max RSS |")
    p("|---|---|")
    p(f"| gguf-crossval validate --data --json data_1g.gguf | {validate_rss / 1024:.1f} MiB |")
    p(f"| xxhsum -H3 data_1g.gguf | {xxhsum_rss / 1024:.1f} MiB |")
    p("")
    p("## crossval stages (wall time per stage, from full-crossval's reports)")
    p("")
    if stages is None:
        p("not measured: crossval not built")
    else:
        names = ["reader", "cpp_header", "cpp_full", "logits"]
        p("| fixture | " + " | ".join(names) + " |")
        p("|---|" + "---|" * len(names))
        for fixture, st in stages:
            cells = [f"{st[n]:.1f} ms" if st.get(n) is not None else "not run" for n in names]
            p(f"| {fixture} | " + " | ".join(cells) + " |")
        if not stages:
            p("not measured: full-crossval wrote no reports")
    p("")
    p("## matrix (whole process; each reader's time from matrix.json, a peer batch's time shared among its files)")
    p("")
    p("Our process's peak is its own VmHWM, without the readers' processes.")
    p("")
    reader_names = ["ours", "llama.cpp", "bitnet.cpp", "gguf-py", "@huggingface/gguf"]
    p("| corpus | files | wall | our process's peak | " + " | ".join(reader_names) + " |")
    p("|---|---|---|---|" + "---|" * len(reader_names))
    matrix_rows = []
    if corpus_runs:
        wall = statistics.median(r[0] for r in corpus_runs)
        run = min(corpus_runs, key=lambda r: abs(r[0] - wall))
        matrix_rows.append(("conformance corpus (median of 3)", wall, run))
    if vocab_run:
        matrix_rows.append((f"the {len(vocab_files)} vocabulary files (largest {largest_vocab / 1e6:.1f} MB)",
                            vocab_run[0], vocab_run))
    for label, wall, (_, peak, readers, n) in matrix_rows:
        cells = [f"{readers[r]:.2f} s" if r in readers else "n/a" for r in reader_names]
        p(f"| {label} | {n} | {wall:.2f} s | {peak / 1024:.1f} MiB | " + " | ".join(cells) + " |")
    if not matrix_rows:
        p("| not measured: matrix failed | | | | | | | | |")
    p("")
    p("## Scale: generated llama models in Q8_0, 100 MB to 2 GB (bench/files.hpp kScaleModels)")
    p("")
    p("Page cache warm. Read: `cat FILE > /dev/null`, median of 3. validate --data (SHA-256 of the file, XXH3-64 and"
      " the --check-tensors scan of every tensor): median of 3, max RSS from GNU time. crossval (reader, llama.cpp's"
      " header parse, its full model load; no logits): one run after a warm-up; our process's peak is its own VmHWM,"
      " the tree's is GNU time's (the largest process: the probe, which maps the model).")
    p("")
    p("| model | size | read | validate --data | validate / read | validate peak | crossval wall | reader | cpp_header"
      " | cpp_full | crossval: our peak | crossval: tree peak |")
    p("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in scale_rows:
        gb = r["size"] / 1e9
        st = r["stages"]
        stage = lambda n: f"{st[n]:.0f} ms" if st.get(n) is not None else "not run"  # noqa: E731
        exit_note = "" if r["crossval_rc"] == 0 else f" (exit {r['crossval_rc']})"
        p(f"| {name} | {gb:.2f} GB | {gb / r['read_s']:.2f} GB/s | {gb / r['validate_s']:.2f} GB/s |"
          f" {r['read_s'] / r['validate_s'] * 100:.0f}% | {r['validate_rss'] / 1024:.1f} MiB |"
          f" {r['crossval_s'] * 1e3:.0f} ms{exit_note} |"
          f" {stage('reader')} | {stage('cpp_header')} | {stage('cpp_full')} | {r['crossval_own_peak'] / 1024:.1f} MiB |"
          f" {r['crossval_tree_peak'] / 1024:.1f} MiB |")
    if not scale_rows:
        p("| not measured: no scale models (gguf-bench-gen --scale) | | | | | | | | | | | |")
    p("")
    if scale_rows:
        sha = openssl_sha256_gbps()
        name, r = scale_rows[-1]
        v = r["size"] / 1e9 / r["validate_s"]
        p("validate --data computes the SHA-256 of the whole file, one sequential hash that no thread can share:"
          + (f" OpenSSL's SHA-256 (the one it uses) runs at {sha:.2f} GB/s here (`openssl speed -evp sha256`, 16 MiB"
             f" blocks), so validate --data on {name} runs at {v / sha * 100:.0f}% of that bound." if sha else
             " `openssl speed` could not be run to measure the bound."))
        p("")
    p("## crossval on the mini fixture, both reference stages (whole process, 15 runs after a warm-up)")
    p("")
    p(f"median wall {crossval_mini[0]:.1f} ms, median CPU (ours and the probe's children) {crossval_mini[1]:.1f} ms")
    p("")
    p("## Built-in forward pass and trace capture (tiny llama f32, 8 tokens; tiny models of the fixtures)")
    p("")
    p("Built-in: Google Benchmark, the pass in this process. llama.cpp: the probe's decode time (`decode_us`,"
      " llama_decode alone, one thread), 10 runs. Trace: the probe's trace mode with the eval callback capturing"
      " every node (on) or answering \"not needed\" (off); built-in with a sink copying every tensor.")
    p("")
    p("| what | ms per decode | tokens/s |")
    p("|---|---|---|")
    fw_rows = [("built-in forward, llama f32", "BM_builtin_forward/llama_f32"),
               ("built-in forward, llama q8_0", "BM_builtin_forward/llama_q8_0"),
               ("built-in forward, bitnet tq2_0", "BM_builtin_forward/bitnet_tq2_0"),
               ("llama.cpp decode, llama f32", "BM_reference_decode/llama_f32"),
               ("llama.cpp decode, llama q8_0", "BM_reference_decode/llama_q8_0"),
               ("llama.cpp decode, bitnet tq2_0", "BM_reference_decode/bitnet_tq2_0"),
               ("built-in forward + trace sink, llama f32", "BM_builtin_trace/llama_f32"),
               ("llama.cpp trace, capture on, llama f32", "BM_reference_trace/llama_f32_capture_on"),
               ("llama.cpp trace, capture off, llama f32", "BM_reference_trace/llama_f32_capture_off")]
    fw = {}
    for label, name in fw_rows:
        b = find(med, name)
        fw[name] = ms(b) if b else None
        if b:
            p(f"| {label} | {ms(b):.3f} | {b.get('tokens_per_s', 0):.0f} |")
        else:
            p(f"| {label} | not measured | |")
    on, off = fw.get("BM_reference_trace/llama_f32_capture_on"), fw.get("BM_reference_trace/llama_f32_capture_off")
    bt, bf = fw.get("BM_builtin_trace/llama_f32"), fw.get("BM_builtin_forward/llama_f32")
    ref_f32 = fw.get("BM_reference_decode/llama_f32")
    if on and off:
        p("")
        p(f"Trace capture overhead: llama.cpp {on / off:.1f}x a plain decode ({on - off:+.3f} ms);"
          + (f" built-in {bt / bf:.2f}x ({bt - bf:+.3f} ms)." if bt and bf else ""))
    if bf and ref_f32:
        p(f"Built-in forward pass vs llama.cpp's decode (llama f32): {ref_f32 / bf:.2f}x llama.cpp's speed.")
    p("")
    p("## Targets")
    p("")
    targets = []
    r = parse_ratio.get("large_vocab")
    targets.append(("parse >= 3x faster than the reference's reader (large vocabulary)",
                    r is not None and r >= 3.0, f"{r:.1f}x" if r else "reference not measured"))
    hx = hashing["threaded"] / xxhsum_gbps
    h1 = hashing["one_thread"] / xxhsum_gbps
    targets.append(("hashing >= 80% of xxhsum's throughput (default: read-ahead thread)", hx >= 0.8,
                    f"{hx * 100:.0f}% (one thread: {h1 * 100:.0f}%)"))
    lb_ratio = ms(rv_open) / ms(lb)
    targets.append(("real Llama 3 tokenizer: gguf::open within 2x of the lower bound", lb_ratio <= 2.0,
                    f"{lb_ratio:.2f}x (CPU {cpu_ms(rv_open) / cpu_ms(lb):.2f}x; buffer parse {ms(rv_buf) / ms(lb):.2f}x)"))
    rv_ratio = ms(rv_ref) / ms(rv_open)
    targets.append(("real Llama 3 tokenizer: >= 20x faster than ggml's reader in-process", rv_ratio >= 20,
                    f"{rv_ratio:.1f}x (CPU {cpu_ms(rv_ref) / cpu_ms(rv_open):.1f}x)"))
    targets.append(("whole-process validate >= 8x faster than ggml's whole process", gw / vw >= 8,
                    f"{gw / vw:.1f}x (CPU {gc / vc:.1f}x)"))
    targets.append(("crossval on the mini fixture <= 35 ms wall median", crossval_mini[0] <= 35,
                    f"{crossval_mini[0]:.1f} ms"))
    if corpus_runs:
        wall = statistics.median(r[0] for r in corpus_runs)
        targets.append(("matrix over the conformance corpus <= 2 s wall median", wall <= 2.0,
                        f"{wall:.2f} s (readers' time in the matrix table)"))
    if vocab_run and largest_vocab:
        x = vocab_run[1] * 1024 / largest_vocab
        targets.append(("matrix over the vocabulary files: our process within 10x the largest file", x <= 10,
                        f"{x:.1f}x ({vocab_run[1] / 1024:.0f} MiB)"))
    rss_mib = validate_rss / 1024
    targets.append(("peak RSS < 64 MiB for validate --data on 1 GiB", rss_mib < 64, f"{rss_mib:.1f} MiB"))
    if scale_rows:
        name, r = scale_rows[-1]
        share = r["read_s"] / r["validate_s"]
        targets.append((f"validate --data on the largest scale model ({name}) >= 90% of a plain read", share >= 0.9,
                        f"{share * 100:.0f}% ({r['size'] / 1e9 / r['validate_s']:.2f} vs {r['size'] / 1e9 / r['read_s']:.2f} GB/s)"))
    p("| target | result | measured |")
    p("|---|---|---|")
    for label, ok, measured in targets:
        p(f"| {label} | {'PASS' if ok else 'MISS'} | {measured} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
