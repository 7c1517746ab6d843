// Metadata parse with our reader: from the file (gguf::open: map and parse, every check) and from
// a buffer already in memory (gguf::parse alone).
#include "bench_support.hpp"
#include "gguf/reader.hpp"

namespace {

void BM_ours_open(benchmark::State& state, const char* name) {
    const auto path = bench::input(state, name);
    if (path.empty()) return;
    for (auto _ : state) {
        auto file = gguf::open(path);
        if (!file) {
            state.SkipWithError(file.error().message.c_str());
            break;
        }
        benchmark::DoNotOptimize(file->kvs().size() + file->tensors().size());
    }
}

void BM_ours_parse_buffer(benchmark::State& state, const char* name) {
    const auto path = bench::input(state, name);
    if (path.empty()) return;
    const auto bytes = bench::slurp(path);
    const gguf::Bytes view(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size());
    for (auto _ : state) {
        auto file = gguf::parse(view);
        if (!file) {
            state.SkipWithError(file.error().message.c_str());
            break;
        }
        benchmark::DoNotOptimize(file->kvs().size() + file->tensors().size());
    }
}

}  // namespace

BENCHMARK_CAPTURE(BM_ours_open, large_vocab, bench::kLargeVocab)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_ours_open, many_tensors, bench::kManyTensors)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_ours_parse_buffer, large_vocab, bench::kLargeVocab)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_ours_parse_buffer, many_tensors, bench::kManyTensors)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
