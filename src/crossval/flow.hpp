// The cross-validation flow for one model: our reader (required), the reference's header parse,
// the reference's full load, optionally the reference's logits; each compared with ours (or with a
// second source), then a verdict under the soft-fail policy.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "expectations.hpp"
#include "logits_stage.hpp"
#include "report.hpp"
#include "tokenize_stage.hpp"
#include "trace_stage.hpp"

namespace gguf::crossval {

struct Options {
    std::filesystem::path model;
    std::optional<std::filesystem::path> cpp_dir;  // --cpp-dir; otherwise the environment, then the pin
    std::chrono::milliseconds timeout{60000};      // per reference stage
    bool allow_cpp_fail = false;                   // CROSSVAL_ALLOW_CPP_FAIL
    const Expectations* expectations = nullptr;    // --expect (and the fixture set's own)
    std::string model_key;                         // the model's name for expectations; empty: the path
    bool strict = false;                           // --strict: an XPASS fails the run
    std::optional<std::string> alter_ours_key;     // test hook: alter our value of this key
    LogitsOptions logits;                          // the optional fourth stage
    TraceOptions trace;                            // the optional trace stage
    bool dequant = false;                          // --dequant: every tensor, ours vs ggml's to_float
    TokenizeOptions tokenize;                      // --tokenize: the tokenizer stage
};

// True when the variable is set to 1, true or yes (any case).
bool env_flag(const char* name);

// Options from the environment: CROSSVAL_ALLOW_CPP_FAIL, CROSSVAL_TEST_ALTER_OURS.
void apply_environment(Options& options);

Report run(const Options& options);

}  // namespace gguf::crossval
