// gguf-bench-gen [DIR]: write the benchmark files into DIR (default: the bench cache dir) unless
// they are already there, and print their paths.
#include <fmt/format.h>

#include "files.hpp"

int main(int argc, char** argv) {
    const std::filesystem::path dir = argc > 1 ? std::filesystem::path(argv[1]) : bench::bench_dir();
    for (const char* name : {bench::kLargeVocab, bench::kManyTensors, bench::kData1G}) {
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
