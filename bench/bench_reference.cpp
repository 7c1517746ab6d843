// Metadata parse with the reference's reader, in-process: gguf_init_from_file with no_alloc=true
// and ctx=NULL (what llama.cpp does to read a header), and gguf_init_from_buffer. Built only when
// the reference's libggml-base.so and gguf.h are given (see CMakeLists.txt).
#include <gguf.h>

#include "bench_support.hpp"

namespace {

void BM_reference_init_from_file(benchmark::State& state, const char* name) {
    const auto path = bench::input(state, name);
    if (path.empty()) return;
    for (auto _ : state) {
        gguf_context* ctx = gguf_init_from_file(path.c_str(), gguf_init_params{true, nullptr});
        if (ctx == nullptr) {
            state.SkipWithError("gguf_init_from_file failed");
            break;
        }
        benchmark::DoNotOptimize(gguf_get_n_kv(ctx) + gguf_get_n_tensors(ctx));
        gguf_free(ctx);
    }
}

void BM_reference_init_from_buffer(benchmark::State& state, const char* name) {
    const auto path = bench::input(state, name);
    if (path.empty()) return;
    const auto bytes = bench::slurp(path);
    for (auto _ : state) {
        gguf_context* ctx = gguf_init_from_buffer(bytes.data(), bytes.size(), gguf_init_params{true, nullptr});
        if (ctx == nullptr) {
            state.SkipWithError("gguf_init_from_buffer failed");
            break;
        }
        benchmark::DoNotOptimize(gguf_get_n_kv(ctx) + gguf_get_n_tensors(ctx));
        gguf_free(ctx);
    }
}

void BM_reference_init_from_file_real_vocab(benchmark::State& state) {
    const auto path = bench::real_vocab(state);
    if (path.empty()) return;
    for (auto _ : state) {
        gguf_context* ctx = gguf_init_from_file(path.c_str(), gguf_init_params{true, nullptr});
        if (ctx == nullptr) {
            state.SkipWithError("gguf_init_from_file failed");
            break;
        }
        benchmark::DoNotOptimize(gguf_get_n_kv(ctx) + gguf_get_n_tensors(ctx));
        gguf_free(ctx);
    }
}

}  // namespace

BENCHMARK(BM_reference_init_from_file_real_vocab)
    ->Name("BM_reference_init_from_file/real_vocab")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_reference_init_from_file, large_vocab, bench::kLargeVocab)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_reference_init_from_file, many_tensors, bench::kManyTensors)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_reference_init_from_buffer, large_vocab, bench::kLargeVocab)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_reference_init_from_buffer, many_tensors, bench::kManyTensors)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
