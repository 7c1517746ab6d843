// UTF-8 validation alone, on the text of the real Llama 3 tokenizer (every string of its token and
// merge arrays, joined: 4.0 MB, nearly all of it GPT-2 byte-level text, so few blocks are pure ASCII):
// our validator, and simdjson's (Debian's libsimdjson) as the peer when it is installed.
#include <string>

#include "bench_support.hpp"
#include "gguf/reader.hpp"
#include "gguf/value.hpp"

#ifdef GGUF_BENCH_SIMDJSON
#include <simdjson.h>
#endif

namespace {

// Every string value and string-array element of the file, joined.
std::string vocab_text(benchmark::State& state) {
    const auto path = bench::real_vocab(state);
    if (path.empty()) return {};
    auto file = gguf::open(path);
    if (!file) {
        state.SkipWithError(file.error().message.c_str());
        return {};
    }
    std::string text;
    for (const auto& kv : file->kvs()) {
        if (kv.value.type() == gguf::ValueType::string) text += kv.value.as_string();
        if (kv.value.type() != gguf::ValueType::array) continue;
        const auto array = kv.value.as_array();
        if (array.elem_type() != gguf::ValueType::string) continue;
        for (const auto element : array) text += element.as_string();
    }
    return text;
}

template <typename Validate>
void utf8_loop(benchmark::State& state, Validate validate) {
    const auto text = vocab_text(state);
    if (text.empty()) return;
    if (!validate(text)) {
        state.SkipWithError("the vocabulary's text is reported invalid");
        return;
    }
    for (auto _ : state) benchmark::DoNotOptimize(validate(text));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}

void BM_ours_utf8(benchmark::State& state) {
    utf8_loop(state, [](const std::string& s) { return gguf::is_valid_utf8(s); });
}

#ifdef GGUF_BENCH_SIMDJSON
void BM_simdjson_utf8(benchmark::State& state) {
    utf8_loop(state, [](const std::string& s) { return simdjson::validate_utf8(s.data(), s.size()); });
}
BENCHMARK(BM_simdjson_utf8)->Name("BM_simdjson_utf8/real_vocab")->Unit(benchmark::kMicrosecond)->UseRealTime();
#endif

}  // namespace

BENCHMARK(BM_ours_utf8)->Name("BM_ours_utf8/real_vocab")->Unit(benchmark::kMicrosecond)->UseRealTime();
