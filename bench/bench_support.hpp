// Shared by the benchmarks: the generated files, read once.
#pragma once

#include <benchmark/benchmark.h>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "files.hpp"

namespace bench {

// The path of a generated file, or an empty path (and the benchmark skipped) when it is missing.
inline std::string input(benchmark::State& state, const char* name) {
    const auto path = bench_dir() / name;
    if (!std::filesystem::exists(path)) {
        state.SkipWithError(("missing " + path.string() + ": run gguf-bench-gen (scripts/bench does)").c_str());
        return {};
    }
    return path.string();
}

// The real Llama 3 tokenizer of the pinned bundle (models/ggml-vocab-llama-bpe.gguf), named by
// $GGUF_BENCH_REAL_VOCAB (scripts/bench sets it), or an empty path (and the benchmark skipped).
inline std::string real_vocab(benchmark::State& state) {
    const char* env = std::getenv("GGUF_BENCH_REAL_VOCAB");
    if (env == nullptr || !std::filesystem::exists(env)) {
        state.SkipWithError("no real vocabulary: set GGUF_BENCH_REAL_VOCAB (scripts/bench does)");
        return {};
    }
    return env;
}

inline std::vector<char> slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace bench
