// The built-in forward pass (src/forward/) against llama.cpp's decode of the same tiny model and
// tokens: builtin runs in this process; llama.cpp decodes in the reference probe (one thread, f32
// KV cache), which reports the time of llama_decode alone ("decode_us"), so neither side pays for
// loading. Without the reference the llama.cpp benchmarks are skipped with the reason.
//
// Trace capture overhead (the compute-parity issue): llama.cpp's decode in the probe's trace mode
// with the eval callback capturing every node (`--capture on`, the trace written) and answering
// "not needed" (`--capture off`), decode time as the probe reports it; and the built-in pass with
// a sink that copies every named tensor, as a trace file writer would, against no sink.
#include <benchmark/benchmark.h>

#include <unistd.h>
#include <filesystem>
#include <map>
#include <string>

#include "fixtures/tiny_model.hpp"
#include "forward/model.hpp"
#include "reference/reference.hpp"

namespace {

using gguf::fixtures::TinyArch;
using gguf::fixtures::TinyType;

const std::vector<std::int32_t> kTokens{1, 75, 108, 36, 259, 270, 100, 2};
const std::string kTokenText = "1,75,108,36,259,270,100,2";

struct Tiny {
    std::vector<std::byte> bytes;
    std::filesystem::path path;  // the same bytes on disk, for the probe
};

const Tiny& tiny(TinyArch arch, TinyType type) {
    static std::map<std::pair<TinyArch, TinyType>, Tiny> cache;
    auto& t = cache[{arch, type}];
    if (t.bytes.empty()) {
        auto w = gguf::fixtures::tiny_model({arch, type, 42});
        t.bytes = w->to_bytes();
        t.path = std::filesystem::temp_directory_path() / ("gguf-bench-forward-" + std::to_string(::getpid()) + "-" +
                                                           std::string(gguf::fixtures::arch_name(arch)) + "-" +
                                                           std::string(gguf::fixtures::type_name(type)) + ".gguf");
        (void)w->write_file(t.path);
    }
    return t;
}

void BM_builtin_forward(benchmark::State& state, TinyArch arch, TinyType type) {
    const auto& t = tiny(arch, type);
    auto file = gguf::parse({t.bytes.data(), t.bytes.size()});
    auto model = gguf::forward::Model::load(*file);
    if (!model) {
        state.SkipWithError(model.error().message.c_str());
        return;
    }
    for (auto _ : state) {
        auto logits = model->run(kTokens);
        benchmark::DoNotOptimize(logits);
    }
    state.counters["tokens_per_s"] =
        benchmark::Counter(static_cast<double>(kTokens.size()), benchmark::Counter::kIsIterationInvariantRate);
}

// Copies each tensor, as a trace writer must before the next one overwrites the buffers.
class CopySink : public gguf::forward::TraceSink {
public:
    void tensor(const gguf::forward::TraceTensor& t) override { copies_.emplace_back(t.data.begin(), t.data.end()); }
    std::size_t count() const { return copies_.size(); }

private:
    std::vector<std::vector<float>> copies_;
};

void BM_builtin_trace(benchmark::State& state, TinyArch arch, TinyType type) {
    const auto& t = tiny(arch, type);
    auto file = gguf::parse({t.bytes.data(), t.bytes.size()});
    auto model = gguf::forward::Model::load(*file);
    if (!model) {
        state.SkipWithError(model.error().message.c_str());
        return;
    }
    std::size_t tensors = 0;
    for (auto _ : state) {
        CopySink sink;
        auto logits = model->run(kTokens, &sink);
        benchmark::DoNotOptimize(logits);
        tensors = sink.count();
    }
    state.counters["tensors"] = static_cast<double>(tensors);
    state.counters["tokens_per_s"] =
        benchmark::Counter(static_cast<double>(kTokens.size()), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_reference_trace(benchmark::State& state, TinyArch arch, TinyType type, bool capture) {
    static const auto located = gguf::reference::locate(std::nullopt);
    if (!located.ref) {
        state.SkipWithError(("no reference: " + located.error).c_str());
        return;
    }
    const auto& t = tiny(arch, type);
    const auto out =
        std::filesystem::temp_directory_path() / ("gguf-bench-trace-" + std::to_string(::getpid()) + ".safetensors");
    std::vector<std::string> args{"trace", "--tokens", kTokenText, "--capture", capture ? "on" : "off"};
    if (capture) args.insert(args.end(), {"--output", out.string()});
    args.insert(args.end(), {"--", t.path.string()});
    double nodes = 0;
    for (auto _ : state) {
        const auto o = gguf::reference::run_probe(*located.ref, args, {});
        if (!o.ok || !o.payload.contains("decode_us")) {
            state.SkipWithError(("the probe failed or gives no decode_us: " + o.message).c_str());
            return;
        }
        nodes = o.payload.value("n_captured", 0.0);
        state.SetIterationTime(o.payload["decode_us"].get<double>() / 1e6);
    }
    std::error_code ec;
    std::filesystem::remove(out, ec);
    state.counters["captured"] = nodes;
    state.counters["tokens_per_s"] =
        benchmark::Counter(static_cast<double>(kTokens.size()), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_reference_decode(benchmark::State& state, TinyArch arch, TinyType type) {
    static const auto located = gguf::reference::locate(std::nullopt);
    if (!located.ref) {
        state.SkipWithError(("no reference: " + located.error).c_str());
        return;
    }
    const auto& t = tiny(arch, type);
    for (auto _ : state) {
        const auto o = gguf::reference::run_logits(*located.ref, t.path, kTokenText, {});
        if (!o.ok || !o.payload.contains("decode_us")) {
            state.SkipWithError(("the probe failed or gives no decode_us: " + o.message).c_str());
            return;
        }
        state.SetIterationTime(o.payload["decode_us"].get<double>() / 1e6);
    }
    state.counters["tokens_per_s"] =
        benchmark::Counter(static_cast<double>(kTokens.size()), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK_CAPTURE(BM_builtin_forward, llama_f32, TinyArch::llama, TinyType::f32)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_builtin_forward, llama_q8_0, TinyArch::llama, TinyType::q8_0)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_builtin_forward, bitnet_tq2_0, TinyArch::bitnet, TinyType::tq2_0)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_reference_decode, llama_f32, TinyArch::llama, TinyType::f32)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime()
    ->Iterations(10);
BENCHMARK_CAPTURE(BM_reference_decode, llama_q8_0, TinyArch::llama, TinyType::q8_0)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime()
    ->Iterations(10);
BENCHMARK_CAPTURE(BM_reference_decode, bitnet_tq2_0, TinyArch::bitnet, TinyType::tq2_0)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime()
    ->Iterations(10);
BENCHMARK_CAPTURE(BM_builtin_trace, llama_f32, TinyArch::llama, TinyType::f32)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_reference_trace, llama_f32_capture_on, TinyArch::llama, TinyType::f32, true)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime()
    ->Iterations(10);
BENCHMARK_CAPTURE(BM_reference_trace, llama_f32_capture_off, TinyArch::llama, TinyType::f32, false)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime()
    ->Iterations(10);
