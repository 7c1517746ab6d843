// The benchmark files, generated with gguf::Writer from a fixed seed so that a reused file and a
// regenerated one are byte-identical.
#include "files.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "fixtures/tiny_model.hpp"
#include "gguf/reader.hpp"
#include "gguf/writer.hpp"

namespace bench {
namespace {

// splitmix64: small, fast and good enough to make tokens and tensor bytes look random.
struct Rng {
    std::uint64_t s;
    std::uint64_t next() {
        std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    std::uint32_t below(std::uint32_t n) { return static_cast<std::uint32_t>(next() % n); }
};

// The hyperparameters of an 8B Llama 3, as its GGUF files carry them.
void llama_keys(gguf::Writer& w, const char* name) {
    w.add("bench.generator", gguf::Value::string(kGeneratorTag));
    w.add("general.architecture", gguf::Value::string("llama"));
    w.add("general.name", gguf::Value::string(name));
    w.add("general.file_type", gguf::Value::u32(1));
    w.add("general.quantization_version", gguf::Value::u32(2));
    w.add("llama.block_count", gguf::Value::u32(32));
    w.add("llama.context_length", gguf::Value::u32(8192));
    w.add("llama.embedding_length", gguf::Value::u32(4096));
    w.add("llama.feed_forward_length", gguf::Value::u32(14336));
    w.add("llama.attention.head_count", gguf::Value::u32(32));
    w.add("llama.attention.head_count_kv", gguf::Value::u32(8));
    w.add("llama.rope.freq_base", gguf::Value::f32(500000.0f));
    w.add("llama.attention.layer_norm_rms_epsilon", gguf::Value::f32(1e-5f));
    w.add("llama.vocab_size", gguf::Value::u32(static_cast<std::uint32_t>(kVocabSize)));
    w.add("llama.rope.dimension_count", gguf::Value::u32(128));
}

// A byte-level BPE token: about half start with "Ġ" (U+0120, the encoded space), the rest of
// lowercase letters, 1 to 12 of them, with a few non-ASCII letters mixed in.
std::string token(Rng& rng) {
    static constexpr const char* kAccents[] = {"é", "ü", "ñ", "ç", "ø"};
    std::string t = rng.below(2) ? "\xC4\xA0" : "";
    const auto n = 1 + rng.below(12);
    for (std::uint32_t i = 0; i < n; ++i) {
        if (rng.below(40) == 0) {
            t += kAccents[rng.below(5)];
        } else {
            t += static_cast<char>('a' + rng.below(26));
        }
    }
    return t;
}

gguf::Writer large_vocab() {
    gguf::Writer w;
    llama_keys(w, "bench large vocabulary");
    Rng rng{1};
    std::vector<std::string> tokens;
    tokens.reserve(kVocabSize);
    for (std::size_t i = 0; i < kVocabSize; ++i) tokens.push_back(token(rng));
    std::vector<float> scores(kVocabSize);
    std::vector<std::int32_t> types(kVocabSize, 1);
    for (std::size_t i = 0; i < kVocabSize; ++i) scores[i] = -static_cast<float>(i);
    for (std::size_t i = kVocabSize - 256; i < kVocabSize; ++i) types[i] = 3;  // control tokens at the end
    std::vector<std::string> merges;
    merges.reserve(kMerges);
    for (std::size_t i = 0; i < kMerges; ++i) merges.push_back(token(rng) + " " + token(rng));
    w.add("tokenizer.ggml.model", gguf::Value::string("gpt2"));
    w.add("tokenizer.ggml.pre", gguf::Value::string("llama-bpe"));
    w.add("tokenizer.ggml.tokens", gguf::Value::strings(tokens));
    w.add("tokenizer.ggml.scores", gguf::Value::f32s(scores));
    w.add("tokenizer.ggml.token_type", gguf::Value::i32s(types));
    w.add("tokenizer.ggml.merges", gguf::Value::strings(merges));
    w.add("tokenizer.ggml.bos_token_id", gguf::Value::u32(128000));
    w.add("tokenizer.ggml.eos_token_id", gguf::Value::u32(128009));
    w.add("tokenizer.chat_template", gguf::Value::string(std::string(4096, 'x')));
    return w;
}

gguf::Writer many_tensors() {
    gguf::Writer w;
    llama_keys(w, "bench many tensors");
    // Ten tensors a block, in a realistic mix of types, with small shapes so the data stays small.
    struct Kind {
        const char* name;
        gguf::GgmlType type;
        std::vector<std::uint64_t> dims;
    };
    const std::vector<Kind> kinds{
        {"attn_norm", gguf::GgmlType::F32, {64}},        {"attn_q", gguf::GgmlType::Q4_K, {256, 2}},
        {"attn_k", gguf::GgmlType::Q4_K, {256, 1}},      {"attn_v", gguf::GgmlType::Q6_K, {256, 1}},
        {"attn_output", gguf::GgmlType::Q4_K, {256, 2}}, {"ffn_norm", gguf::GgmlType::F32, {64}},
        {"ffn_gate", gguf::GgmlType::Q4_K, {256, 4}},    {"ffn_up", gguf::GgmlType::Q4_K, {256, 4}},
        {"ffn_down", gguf::GgmlType::Q6_K, {256, 4}},    {"attn_q_norm", gguf::GgmlType::F16, {64}},
    };
    for (std::size_t i = 0; i < kTensors; ++i) {
        const auto& k = kinds[i % kinds.size()];
        auto name = fmt::format("blk.{}.{}.weight", i / kinds.size(), k.name);
        auto status =
            w.add_tensor(std::move(name), static_cast<std::uint32_t>(k.type), k.dims,
                         [](std::uint64_t, std::span<std::byte> chunk) { std::memset(chunk.data(), 0, chunk.size()); });
        if (!status) std::abort();  // the shapes above are valid for their types
    }
    return w;
}

gguf::Writer data_1g() {
    gguf::Writer w;
    llama_keys(w, "bench 1 GiB of data");
    for (std::uint32_t i = 0; i < 32; ++i) {
        auto status =
            w.add_tensor(fmt::format("blk.{}.ffn_up.weight", i), static_cast<std::uint32_t>(gguf::GgmlType::F16),
                         {4096, 4096}, [i](std::uint64_t offset, std::span<std::byte> chunk) {
                             Rng rng{(std::uint64_t{i} << 40) ^ offset};
                             std::size_t k = 0;
                             for (; k + 8 <= chunk.size(); k += 8) {
                                 // bit 14 of each f16 clear: exponent <= 15, every value finite, so
                                 // validate --data's row check (NaN/Inf) passes on it
                                 const auto v = rng.next() & ~0x4000400040004000ULL;
                                 std::memcpy(chunk.data() + k, &v, 8);
                             }
                             for (; k < chunk.size(); ++k) chunk[k] = static_cast<std::byte>(rng.next() & 0x3F);
                         });
        if (!status) std::abort();
    }
    return w;
}

bool current(const std::filesystem::path& path) {
    auto file = gguf::open(path);
    if (!file) return false;
    const auto* kv = file->find("bench.generator");
    return kv != nullptr && kv->value.as_string() == kGeneratorTag;
}

// A llama model of TinyLlama-1.1B's matrix shapes with `layers` layers, in Q8_0.
gguf::Result<gguf::Writer> scale_model(unsigned layers) {
    using namespace gguf::fixtures;
    TinyModelSpec spec{TinyArch::llama, TinyType::q8_0, 42};
    spec.extra_vocab = 32000 - tiny_shape(TinyArch::llama).n_vocab;
    spec.shape = TinyShape{0, 2048, layers, 32, 4, 5632, 2048};
    auto w = tiny_model(spec);
    if (!w) return w.error();
    w->add("bench.generator", gguf::Value::string(kGeneratorTag));
    return w;
}

}  // namespace

std::filesystem::path bench_dir() {
    if (const char* d = std::getenv("GGUF_BENCH_DIR"); d != nullptr && *d != '\0') return d;
    if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x != '\0') {
        return std::filesystem::path(x) / "gguf-crossval" / "bench";
    }
    const char* home = std::getenv("HOME");
    return std::filesystem::path(home != nullptr ? home : ".") / ".cache" / "gguf-crossval" / "bench";
}

gguf::Result<bool> ensure_file(const std::filesystem::path& dir, const std::string& name) {
    const auto path = dir / name;
    if (current(path)) return false;
    gguf::Writer w;
    const auto* scale = std::find_if(std::begin(kScaleModels), std::end(kScaleModels),
                                     [&](const ScaleModel& m) { return name == m.name; });
    if (name == kLargeVocab) {
        w = large_vocab();
    } else if (name == kManyTensors) {
        w = many_tensors();
    } else if (name == kData1G) {
        w = data_1g();
    } else if (scale != std::end(kScaleModels)) {
        auto model = scale_model(scale->layers);
        if (!model) return model.error();
        w = std::move(*model);
    } else {
        return gguf::Error{gguf::Code::io_error, 0, fmt::format("no generator for '{}'", name)};
    }
    auto status = w.write_file(path);
    if (!status) return status.error();
    return true;
}

}  // namespace bench
