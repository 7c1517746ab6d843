// Dequantization throughput per type: ours (gguf::dequantize_into) and, when the reference is given
// (GGUF_BENCH_REFERENCE), ggml's to_float from its prebuilt libggml-base.so, in the same process on
// the same bytes. Each run turns 2^20 elements of blocks to f32 (4 MiB out, cache-resident-ish for
// the smaller types); throughput is reported as output elements per second.
//
// The block bytes are pseudo-random in 0x30..0x3B: every f16 scale they make is a normal number
// between 2^-3 and 1, every f32 scale (Q8_K) is a normal number too, and no product is subnormal,
// so neither side pays for denormals; the quants are arbitrary.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "gguf/data/quantize.hpp"
#include "gguf/types.hpp"

#if defined(GGUF_BENCH_REFERENCE)
#include <ggml.h>
#endif

namespace {

constexpr std::uint64_t kElements = std::uint64_t{1} << 20;

std::vector<std::byte> blocks_for(const gguf::TypeTraits& t) {
    const std::uint64_t n = kElements / t.block_size * t.bytes_per_block;
    std::vector<std::byte> out(n);
    std::uint64_t h = 0x9E3779B97F4A7C15ull ^ t.id;
    for (auto& b : out) {
        h = h * 6364136223846793005ull + 1442695040888963407ull;
        b = static_cast<std::byte>(0x30 + (h >> 59) % 12);
    }
    return out;
}

void BM_dequant_ours(benchmark::State& state, std::uint32_t id) {
    const auto traits = *gguf::ggml_type(id);
    const auto data = blocks_for(traits);
    std::vector<float> out(kElements);
    for (auto _ : state) {
        auto st = gguf::dequantize_into(static_cast<gguf::GgmlType>(id), data, out);
        if (!st) {
            state.SkipWithError(st.error().message.c_str());
            break;
        }
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kElements));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * data.size()));
}

#if defined(GGUF_BENCH_REFERENCE)
void BM_dequant_ggml(benchmark::State& state, std::uint32_t id) {
    const auto traits = *gguf::ggml_type(id);
    const auto data = blocks_for(traits);
    std::vector<float> out(kElements);
    const auto* rt = ggml_get_type_traits(static_cast<ggml_type>(id));
    if (rt == nullptr || rt->to_float == nullptr) {
        state.SkipWithError("ggml has no to_float for this type");
        return;
    }
    for (auto _ : state) {
        rt->to_float(data.data(), out.data(), static_cast<std::int64_t>(kElements));
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kElements));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * data.size()));
}
#endif

// Every type we dequantize, ours then ggml's, registered by name: BM_dequant_ours/Q4_K ...
[[maybe_unused]] const bool registered = [] {
    for (const auto& t : gguf::ggml_type_table()) {
        if (gguf::dequant_support(t.id) != gguf::DequantSupport::supported) continue;
        const std::string name(t.name);
        benchmark::RegisterBenchmark(("BM_dequant_ours/" + name).c_str(), BM_dequant_ours, t.id)->UseRealTime();
#if defined(GGUF_BENCH_REFERENCE)
        benchmark::RegisterBenchmark(("BM_dequant_ggml/" + name).c_str(), BM_dequant_ggml, t.id)->UseRealTime();
#endif
    }
    return true;
}();

}  // namespace
