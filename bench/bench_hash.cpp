// Hashing the 1 GiB file's data, against a plain sequential read of it (the machine's limit).
// All run with the file in the page cache: scripts/bench reads it once before the runs.
#include <fcntl.h>
#include <unistd.h>
#include <memory>

#include "bench_support.hpp"
#include "gguf/data/hash.hpp"

namespace {

struct Data {
    std::string path;
    std::vector<gguf::ByteRange> ranges;
    std::uint64_t tensor_bytes = 0;
    std::uint64_t file_size = 0;
};

Data data(benchmark::State& state) {
    Data d;
    d.path = bench::input(state, bench::kData1G);
    if (d.path.empty()) return d;
    auto file = gguf::open(d.path);
    if (!file) {
        state.SkipWithError(file.error().message.c_str());
        d.path.clear();
        return d;
    }
    for (const auto& t : file->tensors()) {
        d.ranges.push_back({file->data_offset() + t.offset, t.size});
        d.tensor_bytes += t.size;
    }
    d.file_size = file->file_size();
    return d;
}

// XXH3-64 of every tensor (what `xxhsum -H3` does for the whole file), threaded or not.
void BM_ours_xxh3_tensors(benchmark::State& state, bool threads) {
    const auto d = data(state);
    if (d.path.empty()) return;
    gguf::HashOptions o;
    o.sha256 = false;
    o.threads = threads;
    for (auto _ : state) {
        auto h = gguf::hash_file(d.path, d.ranges, o);
        if (!h) {
            state.SkipWithError(h.error().message.c_str());
            break;
        }
        benchmark::DoNotOptimize(h->xxh3.data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * d.tensor_bytes));
}

// All of validate --data's hashing: SHA-256 of the file and XXH3-64 of each tensor.
void BM_ours_sha256_and_xxh3(benchmark::State& state) {
    const auto d = data(state);
    if (d.path.empty()) return;
    for (auto _ : state) {
        auto h = gguf::hash_file(d.path, d.ranges);
        if (!h) {
            state.SkipWithError(h.error().message.c_str());
            break;
        }
        benchmark::DoNotOptimize(h->sha256.data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * d.file_size));
}

// A plain sequential read of the whole file into one 1 MiB buffer.
void BM_sequential_read(benchmark::State& state) {
    const auto d = data(state);
    if (d.path.empty()) return;
    constexpr std::size_t kBuf = 1 << 20;
    auto buf = std::make_unique<char[]>(kBuf);
    for (auto _ : state) {
        const int fd = ::open(d.path.c_str(), O_RDONLY);
        std::uint64_t total = 0;
        for (ssize_t n; (n = ::read(fd, buf.get(), kBuf)) > 0;) total += static_cast<std::uint64_t>(n);
        ::close(fd);
        if (total != d.file_size) {
            state.SkipWithError("short read");
            break;
        }
        benchmark::DoNotOptimize(buf.get());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * d.file_size));
}

}  // namespace

BENCHMARK_CAPTURE(BM_ours_xxh3_tensors, threaded, true)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK_CAPTURE(BM_ours_xxh3_tensors, one_thread, false)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_ours_sha256_and_xxh3)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_sequential_read)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
