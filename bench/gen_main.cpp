// gguf-bench-gen [DIR] [--scale]: write the benchmark files into DIR (default: the bench cache dir)
// unless they are already there, and print DIR; with --scale, the scale table's models (3.6 GB) too.
#include <fmt/format.h>

#include <string_view>
#include <vector>

#include "files.hpp"

int main(int argc, char** argv) {
    std::filesystem::path dir = bench::bench_dir();
    bool scale = false;
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--scale") {
            scale = true;
        } else {
            dir = argv[i];
        }
    }
    std::vector<const char*> names{bench::kLargeVocab, bench::kManyTensors, bench::kData1G};
    if (scale) {
        for (const auto& m : bench::kScaleModels) names.push_back(m.name);
    }
    for (const char* name : names) {
        auto made = bench::ensure_file(dir, name);
        if (!made) {
            fmt::print(stderr, "gguf-bench-gen: {}\n", made.error().message);
            return 1;
        }
        fmt::print(stderr, "{} {}\n", *made ? "wrote " : "reused", (dir / name).string());
    }
    fmt::print("{}\n", dir.string());
    return 0;
}
