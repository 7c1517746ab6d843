// Many runs at once: summary.json, JUnit XML and a Markdown summary for CI systems. All three are
// rendered from SummaryEntry, which summary.json carries in full, so that shards' summaries can be
// merged (merge_summaries) into exactly what one unsharded run writes.
#pragma once

#include <cstddef>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "report.hpp"

namespace gguf::crossval {

struct SummaryStage {
    std::string name;  // stage_name()
    bool ok = false;
    bool xfail = false;
    bool xpass = false;
    std::string failure;  // failure_name(); empty when ok
    std::string xfail_rule;
    std::string message;
    std::string log_excerpt;
    double duration_ms = 0;
};

// One model's run, as the summaries show it.
struct SummaryEntry {
    std::size_t index = 0;  // position in the whole (unsharded) run's model list
    std::string key;        // the model's name: "fixtures/NAME" or the path relative to --models
    std::string model;      // the path that was run
    std::string report;     // where its JSON report was written
    std::string verdict;    // verdict_name()
    int exit_code = 0;
    bool xfail = false;
    bool xpass = false;
    double duration_ms = 0;  // the whole run of this model
    std::vector<SummaryStage> stages;
    bool compared = false;
    std::vector<std::string> mismatches;  // "field: ours X reference Y"
    std::vector<std::string> findings;
};

SummaryEntry summary_entry(const Report& report, std::size_t index, std::string key, std::string report_path,
                           double duration_ms);

// Which part of the work a machine does: models whose index % count == index - 1 (1-based index).
struct Shard {
    std::size_t index = 1;
    std::size_t count = 1;
    bool takes(std::size_t model_index) const { return model_index % count == index - 1; }
};

// "I/N" with 1 <= I <= N <= 100000, both decimal; nullopt for anything else.
std::optional<Shard> parse_shard(std::string_view text);

// The exit code over many runs: the most severe one (disagree, reader rejected, reference failed).
int overall_exit_code(const std::vector<SummaryEntry>& entries);

// summary.json: {schema_version, timestamp, platform, shard?, counts, exit_code, duration_ms, models: [entry...]}.
nlohmann::json summary_json(const std::vector<SummaryEntry>& entries, const std::optional<Shard>& shard = {});

// Entries back from summary.json (what merge reads). Errors name the field.
struct SummaryError {
    std::string message;
};
gguf::Result<std::vector<SummaryEntry>, SummaryError> entries_from_summary(const nlohmann::json& summary);

// One <testcase> per model and stage (classname: the model's key, time: the stage's duration):
// pass, <skipped> for an XFAIL (with its rule), or <failure> with the message first and the log after;
// plus one "comparison" testcase per model that both readers parsed.
std::string junit_xml(const std::vector<SummaryEntry>& entries);

// summary.md: counts, then a table of every model that did not plainly pass, fit for a CI step
// summary ($GITHUB_STEP_SUMMARY). Text from files is escaped: no raw control characters or markup.
std::string summary_markdown(const std::vector<SummaryEntry>& entries);

// Shards' entries into one run's: concatenated, ordered by index; an index seen twice is an error.
gguf::Result<std::vector<SummaryEntry>, SummaryError> merge_entries(std::vector<std::vector<SummaryEntry>> shards);

}  // namespace gguf::crossval
