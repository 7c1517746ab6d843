// Many reports at once: summary.json and JUnit XML for CI systems.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "report.hpp"

namespace gguf::crossval {

struct RunEntry {
    Report report;
    std::string report_path;  // where its JSON report was written
};

// The exit code over many runs: the most severe one (disagree, reader rejected, reference failed).
int overall_exit_code(const std::vector<RunEntry>& runs);

nlohmann::json summary_json(const std::vector<RunEntry>& runs);

// One <testcase> per model and stage: pass, <skipped> for an allowed XFAIL (with its reason), or
// <failure>; plus one "comparison" testcase per model that both readers parsed.
std::string junit_xml(const std::vector<RunEntry>& runs);

}  // namespace gguf::crossval
