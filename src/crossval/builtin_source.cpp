#include "builtin_source.hpp"

#include <fmt/format.h>

namespace gguf::crossval {

LogitsResult<Logits> builtin_logits(const std::filesystem::path& path, std::span<const std::int32_t> tokens,
                                    forward::Activations activations) {
    auto file = gguf::open(path);
    if (!file)
        return LogitsError{LogitsCode::io_error, 0,
                           "the built-in forward pass cannot read the file: " + file.error().message};
    auto model = forward::Model::load(*file);
    if (!model) {
        return LogitsError{LogitsCode::io_error, 0,
                           fmt::format("the built-in forward pass does not run this model ({}): {}",
                                       forward::code_name(model.error().code), model.error().message)};
    }
    auto values = model->run(tokens, nullptr, activations);
    if (!values) {
        return LogitsError{LogitsCode::io_error, 0,
                           fmt::format("the built-in forward pass failed ({}): {}",
                                       forward::code_name(values.error().code), values.error().message)};
    }
    Logits out;
    out.n_vocab = model->hparams().n_vocab;
    out.tokens.assign(tokens.begin(), tokens.end());
    out.values = std::move(*values);
    return out;
}

namespace {

// How far builtin (f32 weights and activations, double sums) and llama.cpp's CPU backend may be
// apart, per weight type of the matrices. llama.cpp converts the activations to the weight's
// "vec_dot" type before each matrix product: F32 stays F32, F16 rounds them to F16, Q8_0
// quantizes them to Q8_0, TQ1_0/TQ2_0 to Q8_K. The figures are measured margins over the
// largest differences seen on the tiny models and gguf-py files (docs/forward-pass.md).
struct TypeThresholds {
    GgmlType type;
    int rank;  // larger: less precise activations in llama.cpp
    Thresholds t;
};

const TypeThresholds kByType[] = {
    {GgmlType::F32, 0, {1e-4, 0.99999, 1e-6, true, 0}}, {GgmlType::F16, 1, {5e-2, 0.99999, 1e-5, true, 0}},
    {GgmlType::Q8_0, 2, {1.0, 0.9995, 1e-2, false, 0}}, {GgmlType::TQ2_0, 3, {2.0, 0.999, 1e-2, false, 0}},
    {GgmlType::TQ1_0, 3, {2.0, 0.999, 1e-2, false, 0}},
};

}  // namespace

Thresholds builtin_thresholds(const File& file, std::string& why) {
    const TypeThresholds* worst = &kByType[0];
    for (const auto& t : file.tensors()) {
        if (t.n_dims < 2) continue;  // norms and scales: F32, read exactly by both
        const TypeThresholds* row = nullptr;
        for (const auto& r : kByType) {
            if (static_cast<std::uint32_t>(r.type) == t.type) row = &r;
        }
        if (row == nullptr) {  // a type not measured: the loosest row, named as such
            why = fmt::format("weights of type {} (not measured; the loosest thresholds)", t.traits.name);
            return kByType[std::size(kByType) - 1].t;
        }
        if (row->rank > worst->rank) worst = row;
    }
    why = fmt::format("{} weights", ggml_type(static_cast<std::uint32_t>(worst->type))->name);
    return worst->t;
}

}  // namespace gguf::crossval
