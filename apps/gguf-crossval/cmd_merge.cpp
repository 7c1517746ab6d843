// merge: combine the outputs of full-crossval shards (summary.json) into one run's summary.json,
// junit.xml and summary.md, and those of matrix shards (matrix.json) into one matrix.json and matrix.md.
#include <fmt/format.h>
#include <fstream>

#include "command.hpp"
#include "crossval_output.hpp"
#include "util/json_depth.hpp"

namespace cli {
namespace {

namespace fs = std::filesystem;

// The JSON document at path, or discarded (printed) when it cannot be read or parsed.
nlohmann::json read_json(const fs::path& path, const char* what) {
    std::ifstream in(path, std::ios::binary);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    auto j = in.is_open() && gguf::util::json_depth_within(text) ? nlohmann::json::parse(text, nullptr, false)
                                                                 : nlohmann::json(nlohmann::json::value_t::discarded);
    if (j.is_discarded()) fmt::print(stderr, "error: '{}' is not a readable {}\n", safe(path.string()), what);
    return j;
}

int merge_summaries(const std::vector<std::string>& shards, const fs::path& out) {
    std::vector<std::vector<gguf::crossval::SummaryEntry>> parts;
    for (const auto& dir : shards) {
        const auto path = fs::path(dir) / "summary.json";
        const auto j = read_json(path, "summary.json");
        if (j.is_discarded()) return kUsage;
        auto entries = gguf::crossval::entries_from_summary(j);
        if (!entries) {
            fmt::print(stderr, "error: {}: {}\n", safe(path.string()), entries.error().message);
            return kUsage;
        }
        parts.push_back(std::move(entries).value());
    }
    auto merged = gguf::crossval::merge_entries(std::move(parts));
    if (!merged) {
        fmt::print(stderr, "error: {}\n", merged.error().message);
        return kUsage;
    }
    return write_summaries(*merged, std::nullopt, out);
}

int merge_matrix(const std::vector<std::string>& shards, const fs::path& out) {
    std::vector<gguf::crossval::Matrix> parts;
    for (const auto& dir : shards) {
        const auto path = fs::path(dir) / "matrix.json";
        const auto j = read_json(path, "matrix.json");
        if (j.is_discarded()) return kUsage;
        auto matrix = gguf::crossval::matrix_from_json(j);
        if (!matrix) {
            fmt::print(stderr, "error: {}: {}\n", safe(path.string()), matrix.error().message);
            return kUsage;
        }
        parts.push_back(std::move(matrix).value());
    }
    auto merged = gguf::crossval::merge_matrices(std::move(parts));
    if (!merged) {
        fmt::print(stderr, "error: {}\n", safe(merged.error().message));
        return kUsage;
    }
    return write_matrix_outputs(*merged, out);
}

}  // namespace

Command add_merge(CLI::App& root) {
    auto* app = root.add_subcommand(
        "merge",
        "Merge the outputs of full-crossval shards (each a --out directory holding summary.json) into one "
        "summary.json, junit.xml and summary.md, and those of matrix shards (directories holding matrix.json) into "
        "one matrix.json and matrix.md, as one unsharded run writes them");
    struct Opts {
        std::vector<std::string> shards;
        std::string out;
    };
    auto opts = std::make_shared<Opts>();
    app->add_option("shards", opts->shards, "The shards' --out directories")->required();
    app->add_option("--out", opts->out, "Where the merged files go")->required();
    app->footer(
        "What is merged: summary.json when the first shard has one, matrix.json when it has one (both when both); "
        "every shard must then have it too.\n"
        "Exit codes: the merged run's (full-crossval: 0 pass, 1, 3, 4; matrix: 0, 1 our reader wrong on some "
        "file; the more severe when both), 2 usage (a shard's file missing or malformed, a model or file in two "
        "shards, shards of different corpora or readers), 5 an output could not be written.");
    return {app, [opts] {
                const fs::path first = opts->shards.front();
                std::error_code ec;
                const bool summaries = fs::exists(first / "summary.json", ec);
                const bool matrix = fs::exists(first / "matrix.json", ec);
                if (!summaries && !matrix) {
                    fmt::print(stderr, "error: '{}' holds neither summary.json nor matrix.json\n",
                               safe(first.string()));
                    return int{kUsage};
                }
                int code = kOk;
                if (summaries) code = merge_summaries(opts->shards, opts->out);
                if (code == kUsage || code == kWriteFailed || !matrix) return code;
                const int matrix_code = merge_matrix(opts->shards, opts->out);
                return matrix_code != kOk ? matrix_code : code;
            }};
}

}  // namespace cli
