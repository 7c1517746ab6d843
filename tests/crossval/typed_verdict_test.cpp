// The verdict path is typed: stages, failure classes and verdicts are enums, and their names exist
// only where reports are rendered. This test reads the sources and fails if any of those names
// (taken from the enums' own renderers, so the list cannot drift) is compared as a string, or if a
// formatted field path or note text is searched to decide something.
#include <gtest/gtest.h>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "crossval/matrix.hpp"
#include "crossval/verdict.hpp"

namespace {

namespace fs = std::filesystem;
using namespace gguf::crossval;

std::vector<std::string> rendered_names() {
    std::vector<std::string> names;
    for (auto s : {StageId::reader, StageId::cpp_header, StageId::cpp_full, StageId::logits, StageId::trace}) {
        names.emplace_back(stage_name(s));
    }
    for (auto v : {Verdict::pass, Verdict::pass_xfail, Verdict::reader_rejected, Verdict::readers_disagree,
                   Verdict::reference_failed}) {
        names.emplace_back(verdict_name(v));
    }
    for (auto v : {ReaderVerdict::accept, ReaderVerdict::reject, ReaderVerdict::crash, ReaderVerdict::timeout,
                   ReaderVerdict::unavailable}) {
        names.emplace_back(reader_verdict_name(v));
    }
    for (auto c : {CheckFailure::non_finite_logits, CheckFailure::logits_diverge, CheckFailure::against_unavailable,
                   CheckFailure::trace_diverge, CheckFailure::nothing_compared}) {
        names.push_back(failure_name(c));
    }
    for (int c = static_cast<int>(gguf::reference::FailureClass::file_unreadable);
         c <= static_cast<int>(gguf::reference::FailureClass::other); ++c) {
        names.push_back(failure_name(static_cast<gguf::reference::FailureClass>(c)));
    }
    return names;
}

std::vector<fs::path> sources() {
    std::vector<fs::path> out;
    for (const char* dir : {"src", "apps"}) {
        for (const auto& e : fs::recursive_directory_iterator(fs::path(GGUF_CROSSVAL_SOURCE_DIR) / dir)) {
            const auto ext = e.path().extension();
            if (e.is_regular_file() && (ext == ".cpp" || ext == ".hpp")) out.push_back(e.path());
        }
    }
    return out;
}

std::string read(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

TEST(TypedVerdict, TheSourcesAreFound) {
    EXPECT_GT(sources().size(), 40u);
}

TEST(TypedVerdict, NoStageFailureClassOrVerdictNameIsComparedAsAString) {
    for (const auto& name : rendered_names()) {
        const std::regex compared("(==|!=)\\s*\"" + name + "\"|\"" + name + "\"\\s*(==|!=)");
        for (const auto& file : sources()) {
            EXPECT_FALSE(std::regex_search(read(file), compared)) << file << " compares \"" << name << "\" as a string";
        }
    }
}

TEST(TypedVerdict, NoDecisionSearchesAFormattedPathOrANote) {
    // Field paths were once recognised by their "tensors[" prefix, note kinds by their English words.
    const std::regex searched(R"((rfind|find|starts_with)\(\s*"(tensors\[|kv\[|data_offset|dims|type id))");
    for (const auto& file : sources()) {
        EXPECT_FALSE(std::regex_search(read(file), searched)) << file;
    }
}
