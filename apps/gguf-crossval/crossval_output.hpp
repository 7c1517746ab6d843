// Shared by crossval and full-crossval: reference options, the exit-code text, printing a verdict.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "crossval/flow.hpp"
#include "crossval/matrix.hpp"
#include "crossval/summary.hpp"

namespace cli {

inline constexpr const char* kCrossvalFooter =
    "Exit codes: 0 pass (allowed XFAILs included), 1 our reader rejected the file, 2 usage error, "
    "3 the readers disagree (a field mismatch, or one reader accepts what the other rejects), "
    "4 a reference stage failed and neither an expectation (--expect) nor CROSSVAL_ALLOW_CPP_FAIL allows it, "
    "or (--strict) a stage passed that an expectation declares as failing, "
    "5 an output (report, --logits-out, summary.json, junit.xml, summary.md) could not be written.\n"
    "Environment: CROSSVAL_ALLOW_CPP_FAIL=1|true|yes turns reference failures that no expectation covers into "
    "XFAIL (never a mismatch); "
    "CROSSVAL_CPP_DIR (or BITNET_CPP_DIR) names a llama.cpp-family build to use instead of the pinned reference; "
    "CROSSVAL_SEED (or BITNET_SEED, default 42) seeds generated fixtures.";

// A timeout in seconds: finite, positive, at most a day.
const CLI::Validator& timeout_seconds();

void add_reference_options(CLI::App& app, std::string& cpp_dir, double& timeout_s);

// --logits, --tokens, --against and the thresholds (their defaults are written into the report).
void add_logits_options(CLI::App& app, gguf::crossval::LogitsOptions& logits, std::string& against);

// The model must be a regular file we can read (as validate requires): an error message, or empty.
std::string readable_model(const std::string& model);

// Check --tokens before anything runs (a typo is a usage error, never a reference failure): given,
// it must be a non-empty list of decimal ids, each within the model's vocabulary when our reader
// knows it. Normalises the list. Returns an error message, empty when fine.
std::string check_tokens(const CLI::App& app, gguf::crossval::LogitsOptions& logits, const std::string& model);

// Check --against before anything runs: a readable logits file, or a directory holding a reference
// build. Returns an error message, empty when fine.
std::string check_against(const std::string& against, gguf::crossval::LogitsOptions& logits);

// --expect FILE (repeatable) and --strict.
struct ExpectOptions {
    std::vector<std::string> files;
    bool strict = false;
};
void add_expect_options(CLI::App& app, ExpectOptions& options);

// Read the --expect files into `out` (appended). Returns an error message, empty when fine.
std::string load_expectations(const ExpectOptions& options, gguf::crossval::Expectations& out);

gguf::crossval::Options crossval_options(const std::string& model, const std::string& cpp_dir, double timeout_s);

// One line: "PASS  model" / "XFAIL model (cpp_full: unknown_architecture)" / "FAIL ...".
std::string verdict_line(const gguf::crossval::Report& report);

// Write summary.json, junit.xml and summary.md into out; print the counts; return the overall exit code.
int write_summaries(const std::vector<gguf::crossval::SummaryEntry>& entries,
                    const std::optional<gguf::crossval::Shard>& shard, const std::filesystem::path& out);

// Write matrix.json and matrix.md into out; print the readers' totals; return the matrix's exit code
// (0 our reader right on every file, 1 wrong on some, 5 an output could not be written).
int write_matrix_outputs(const gguf::crossval::Matrix& matrix, const std::filesystem::path& out);

// A usage error found after the flags were parsed (a bad --tokens or --against, a model that cannot be
// read): printed, and written as a report with verdict usage_error, so that every outcome has one.
int usage_report(const std::string& model, const std::string& report_path, const std::string& why);

// Write the report (atomically), print the verdict and the mismatches, return the exit code.
int finish_report(const gguf::crossval::Report& report, const std::string& path);

}  // namespace cli
