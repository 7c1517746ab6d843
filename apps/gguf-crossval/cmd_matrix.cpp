// matrix: every corpus file through four readers, matrix.md and matrix.json.
#include <fmt/format.h>

#include "command.hpp"
#include "crossval/matrix.hpp"
#include "crossval_output.hpp"

namespace cli {

int write_matrix_outputs(const gguf::crossval::Matrix& matrix, const std::filesystem::path& out) {
    if (auto s = gguf::crossval::write_matrix(matrix, out); !s) {
        fmt::print(stderr, "error: {}\n", s.error().message);
        return kWriteFailed;
    }
    for (const auto& r : matrix.readers) {
        if (!r.available) {
            fmt::print(stderr, "warning: {} unavailable (its column says so): {}\n", r.name, r.why_unavailable);
        }
    }
    const auto& t = matrix.totals;
    for (std::size_t r = 0; r < matrix.readers.size(); ++r) {
        if (!matrix.readers[r].available) {
            fmt::print("{:<18} unavailable\n", matrix.readers[r].name);
            continue;
        }
        fmt::print(
            "{:<18} wrongly accepted {:>3}  wrongly rejected {:>3}  crashes {:>2}  timeouts {:>2}  "
            "value disagreements {:>3}\n",
            matrix.readers[r].name, t[r].wrongly_accepted, t[r].wrongly_rejected, t[r].crashes, t[r].timeouts,
            t[r].value_disagreements);
    }
    fmt::print("{} files in {:.0f} s; wrote {}/matrix.md and {}/matrix.json\n", matrix.files.size(), matrix.duration_s,
               safe(out.string()), safe(out.string()));
    if (!matrix.ours_right()) {
        fmt::print(stderr, "error: our reader is wrong on some file (see matrix.md): a bug to fix\n");
        return kInvalid;
    }
    return kOk;
}

Command add_matrix(CLI::App& root) {
    auto* app = root.add_subcommand(
        "matrix",
        "Run every file of a corpus (DIR/manifest.json, else every *.gguf in DIR) through four readers: ours, "
        "llama.cpp's gguf reader (the reference probe), gguf-py's GGUFReader and @huggingface/gguf; judge each "
        "verdict against the manifest, compare accepted files' values with ours, write matrix.md and matrix.json");
    app->footer(
        "Exit codes: 0 our reader is right on every file (the other readers' errors are findings, not failures), "
        "1 our reader is wrong on some file, 2 usage error, 5 matrix.md or matrix.json could not be written.\n"
        "Peers: scripts/fetch-peers installs them. Environment: GGUF_CROSSVAL_GGUF_PY (directory holding the gguf "
        "package; default: the pinned reference's src/gguf-py), GGUF_CROSSVAL_PYTHON (default /usr/bin/python3), "
        "GGUF_CROSSVAL_HF_GGUF (the @huggingface/gguf package directory; default: "
        "$XDG_CACHE_HOME/gguf-crossval/npm-peers/node_modules/@huggingface/gguf), GGUF_CROSSVAL_NODE (default node). "
        "A reader that cannot be found is reported unavailable, never as a pass.");
    struct Opts {
        std::string dir;
        std::string out;
        std::string cpp_dir;
        std::string bitnet_dir;
        double timeout_s = 20;
        unsigned jobs = 2;
        std::string shard;
    };
    auto opts = std::make_shared<Opts>();
    app->add_option("DIR", opts->dir, "The corpus directory (gguf-crossval gen-corpus --out DIR)")->required();
    app->add_option("--out,-o", opts->out, "Where to write matrix.md and matrix.json (default: DIR)");
    app->add_option("--timeout", opts->timeout_s, "Seconds each reader may take on one file")
        ->check(timeout_seconds())
        ->capture_default_str();
    app->add_option("--jobs,-j", opts->jobs, "Files in flight at once (each runs its readers one after another)")
        ->check(CLI::Range(1u, 64u))
        ->capture_default_str();
    app->add_option("--cpp-dir", opts->cpp_dir,
                    "A llama.cpp-family build to use as the reference; default: $CROSSVAL_CPP_DIR, $BITNET_CPP_DIR, "
                    "then the pinned reference");
    app->add_option("--bitnet-dir", opts->bitnet_dir,
                    "The bitnet.cpp build for the bitnet.cpp column; default: $BITNET_CPP_DIR, then the build "
                    "scripts/fetch-bitnet cached (the column is unavailable without one)");
    auto* shard_option = app->add_option(
        "--shard", opts->shard,
        "I/N: run only the files whose index (in the whole corpus's order) modulo N is I-1; combine the "
        "shards' matrix.json with 'gguf-crossval merge'");
    return {app, [opts, shard_option] {
                gguf::crossval::MatrixOptions options;
                options.dir = opts->dir;
                if (!opts->cpp_dir.empty()) options.cpp_dir = opts->cpp_dir;
                if (!opts->bitnet_dir.empty()) options.bitnet_dir = opts->bitnet_dir;
                options.timeout = std::chrono::milliseconds(static_cast<long long>(opts->timeout_s * 1000));
                options.jobs = opts->jobs;
                options.progress = [](std::size_t i, std::size_t n, const std::string& file) {
                    fmt::print(stderr, "[{}/{}] {}\n", i, n, safe(file));
                };
                const std::string out = opts->out.empty() ? opts->dir : opts->out;
                if (shard_option->count() > 0 && !(options.shard = gguf::crossval::parse_shard(opts->shard))) {
                    fmt::print(stderr, "error: --shard '{}' is not I/N with 1 <= I <= N\n", safe(opts->shard));
                    return int{kUsage};
                }
                // A previous run's outputs must not stand for this one if this one is interrupted.
                std::error_code ec;
                for (const char* name : {"matrix.json", "matrix.md"})
                    std::filesystem::remove(std::filesystem::path(out) / name, ec);
                // Each file's matrix.json entry goes to a spool beside the outputs as it finishes, so
                // memory holds the files matrix.md lists, not every file's cells. A DIR that is not a
                // directory is run_matrix's usage error: nothing is made for it.
                if (std::filesystem::is_directory(options.dir, ec)) {
                    auto spool = gguf::crossval::MatrixSpool::create(out);
                    if (!spool) {
                        fmt::print(stderr, "error: {}\n", safe(spool.error().message));
                        return int{kWriteFailed};
                    }
                    options.spool = std::move(spool).value();
                }
                auto matrix = gguf::crossval::run_matrix(options);
                if (!matrix) {
                    fmt::print(stderr, "error: {}\n", safe(matrix.error().message));
                    const bool spool_failed = options.spool && !options.spool->error().empty();
                    return int{spool_failed ? kWriteFailed : kUsage};
                }
                return write_matrix_outputs(*matrix, out);
            }};
}

}  // namespace cli
