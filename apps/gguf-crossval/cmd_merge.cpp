// merge: combine the summaries of full-crossval shards (--shard I/N) into one run's summary.json,
// junit.xml and summary.md.
#include <fmt/format.h>
#include <fstream>

#include "command.hpp"
#include "crossval_output.hpp"

namespace cli {

Command add_merge(CLI::App& root) {
    auto* app = root.add_subcommand(
        "merge",
        "Merge the outputs of full-crossval shards (each a --out directory holding summary.json) into one "
        "summary.json, junit.xml and summary.md, as one unsharded run writes them");
    struct Opts {
        std::vector<std::string> shards;
        std::string out;
    };
    auto opts = std::make_shared<Opts>();
    app->add_option("shards", opts->shards, "The shards' --out directories")->required();
    app->add_option("--out", opts->out, "Where the merged files go")->required();
    app->footer(
        "Exit codes: the merged run's (0 pass, 1, 3, 4 as full-crossval), 2 usage (a shard's summary.json "
        "missing or malformed, a model in two shards).");
    return {app, [opts] {
                std::vector<std::vector<gguf::crossval::SummaryEntry>> parts;
                for (const auto& dir : opts->shards) {
                    const auto path = std::filesystem::path(dir) / "summary.json";
                    std::ifstream in(path);
                    const auto j = nlohmann::json::parse(in, nullptr, false);
                    if (!in.is_open() || j.is_discarded()) {
                        fmt::print(stderr, "error: '{}' is not a readable summary.json\n", path.string());
                        return int{kUsage};
                    }
                    auto entries = gguf::crossval::entries_from_summary(j);
                    if (!entries) {
                        fmt::print(stderr, "error: {}: {}\n", path.string(), entries.error().message);
                        return int{kUsage};
                    }
                    parts.push_back(std::move(entries).value());
                }
                auto merged = gguf::crossval::merge_entries(std::move(parts));
                if (!merged) {
                    fmt::print(stderr, "error: {}\n", merged.error().message);
                    return int{kUsage};
                }
                return write_summaries(*merged, std::nullopt, opts->out);
            }};
}

}  // namespace cli
