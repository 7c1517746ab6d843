// Shared by the benchmarks: the generated files, read once.
#pragma once

#include <benchmark/benchmark.h>
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

inline std::vector<char> slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace bench
