#include "forward/hparams.hpp"

#include <fmt/format.h>
#include <cmath>
#include <optional>

namespace gguf::forward {

std::string_view code_name(Code code) {
    switch (code) {
        case Code::unsupported_architecture:
            return "unsupported_architecture";
        case Code::missing_key:
            return "missing_key";
        case Code::bad_key:
            return "bad_key";
        case Code::missing_tensor:
            return "missing_tensor";
        case Code::wrong_shape:
            return "wrong_shape";
        case Code::unsupported_type:
            return "unsupported_type";
        case Code::unsupported_feature:
            return "unsupported_feature";
        case Code::bad_data:
            return "bad_data";
        case Code::bad_tokens:
            return "bad_tokens";
    }
    return "unknown";
}

namespace {

// Larger values than these are refused: no file the forward pass can run in memory has them, and
// they keep every product below in 64 bits.
constexpr std::uint64_t kMaxDim = std::uint64_t{1} << 24;
constexpr std::uint64_t kMaxLayers = 4096;

bool is_integer(ValueType t) {
    switch (t) {
        case ValueType::uint8:
        case ValueType::uint16:
        case ValueType::uint32:
        case ValueType::uint64:
        case ValueType::int8:
        case ValueType::int16:
        case ValueType::int32:
        case ValueType::int64:
            return true;
        default:
            return false;
    }
}

bool is_signed(ValueType t) {
    return t == ValueType::int8 || t == ValueType::int16 || t == ValueType::int32 || t == ValueType::int64;
}

// An unsigned hyperparameter in 1..max; nullopt when absent.
Result<std::optional<std::uint32_t>> uint_key(const File& f, const std::string& key, std::uint64_t max) {
    const KeyValue* kv = f.find(key);
    if (kv == nullptr) return std::optional<std::uint32_t>{};
    const ValueType t = kv->value.type();
    if (t == ValueType::array) {
        return Error{Code::bad_key, fmt::format("'{}' is an array (per-layer values are not supported)", key)};
    }
    if (!is_integer(t)) return Error{Code::bad_key, fmt::format("'{}' is not an integer", key)};
    if (is_signed(t) && kv->value.as_int() < 0) {
        return Error{Code::bad_key, fmt::format("'{}' is negative ({})", key, kv->value.as_int())};
    }
    const std::uint64_t v = is_signed(t) ? static_cast<std::uint64_t>(kv->value.as_int()) : kv->value.as_uint();
    if (v == 0 || v > max) return Error{Code::bad_key, fmt::format("'{}' = {} is outside 1..{}", key, v, max)};
    return std::optional<std::uint32_t>{static_cast<std::uint32_t>(v)};
}

Result<std::uint32_t> required_uint(const File& f, const std::string& key, std::uint64_t max) {
    auto v = uint_key(f, key, max);
    if (!v) return v.error();
    if (!*v) return Error{Code::missing_key, fmt::format("key not found in model: '{}'", key)};
    return **v;
}

// A float hyperparameter (f32 or f64), finite; nullopt when absent.
Result<std::optional<double>> float_key(const File& f, const std::string& key) {
    const KeyValue* kv = f.find(key);
    if (kv == nullptr) return std::optional<double>{};
    const ValueType t = kv->value.type();
    if (t != ValueType::float32 && t != ValueType::float64) {
        return Error{Code::bad_key, fmt::format("'{}' is not a float", key)};
    }
    const double v = kv->value.as_float();
    if (!std::isfinite(v)) return Error{Code::bad_key, fmt::format("'{}' is not finite", key)};
    return std::optional<double>{v};
}

}  // namespace

Result<Hparams> read_hparams(const File& f) {
    Hparams h;
    const KeyValue* arch = f.find("general.architecture");
    if (arch == nullptr || arch->value.type() != ValueType::string) {
        return Error{Code::missing_key, "key not found in model: 'general.architecture' (a string)"};
    }
    h.arch_name = std::string(arch->value.as_string());
    if (h.arch_name == "llama") {
        h.arch = Arch::llama;
        h.rope = RopeMode::normal;
    } else if (h.arch_name == "bitnet") {
        h.arch = Arch::bitnet;
        h.rope = RopeMode::neox;
    } else {
        return Error{
            Code::unsupported_architecture,
            fmt::format("architecture '{}' is not one the forward pass implements (llama, bitnet)", h.arch_name)};
    }
    const auto k = [&h](std::string_view key) { return fmt::format("{}.{}", h.arch_name, key); };

#define FWD_UINT(field, key)                                \
    if (auto v_ = required_uint(f, k(key), kMaxDim); !v_) { \
        return v_.error();                                  \
    } else {                                                \
        h.field = *v_;                                      \
    }
    FWD_UINT(n_embd, "embedding_length")
    FWD_UINT(n_ff, "feed_forward_length")
    FWD_UINT(n_head, "attention.head_count")
#undef FWD_UINT
    if (auto v = required_uint(f, k("block_count"), kMaxLayers); !v)
        return v.error();
    else
        h.n_layer = *v;

    if (auto v = uint_key(f, k("attention.head_count_kv"), kMaxDim); !v)
        return v.error();
    else
        h.n_head_kv = v->value_or(h.n_head);
    if (h.n_head % h.n_head_kv != 0) {
        return Error{Code::bad_key,
                     fmt::format("{} attention heads are not a multiple of {} KV heads", h.n_head, h.n_head_kv)};
    }
    auto key_length = uint_key(f, k("attention.key_length"), kMaxDim);
    if (!key_length) return key_length.error();
    auto value_length = uint_key(f, k("attention.value_length"), kMaxDim);
    if (!value_length) return value_length.error();
    if (*key_length) {
        h.head_dim = **key_length;
    } else {
        if (h.n_embd % h.n_head != 0) {
            return Error{Code::bad_key, fmt::format("n_embd {} is not a multiple of n_head {}", h.n_embd, h.n_head)};
        }
        h.head_dim = h.n_embd / h.n_head;
    }
    if (static_cast<std::uint64_t>(h.head_dim) * h.n_head > kMaxDim) {
        return Error{Code::bad_key,
                     fmt::format("head size {} times {} heads exceeds {}", h.head_dim, h.n_head, kMaxDim)};
    }
    if (value_length->value_or(h.head_dim) != h.head_dim) {
        return Error{Code::unsupported_feature, "attention.key_length and attention.value_length differ"};
    }
    if (h.arch == Arch::bitnet && h.n_embd_q() != h.n_embd) {
        return Error{Code::bad_key, "bitnet needs head_dim * n_head == n_embd"};
    }
    if (auto v = uint_key(f, k("rope.dimension_count"), kMaxDim); !v)
        return v.error();
    else
        h.n_rot = v->value_or(h.head_dim);
    if (h.n_rot > h.head_dim || h.n_rot % 2 != 0) {
        return Error{Code::bad_key, fmt::format("rope.dimension_count {} must be even and at most the head size {}",
                                                h.n_rot, h.head_dim)};
    }

    auto eps = float_key(f, k("attention.layer_norm_rms_epsilon"));
    if (!eps) return eps.error();
    if (!*eps)
        return Error{Code::missing_key,
                     fmt::format("key not found in model: '{}'", k("attention.layer_norm_rms_epsilon"))};
    if (**eps < 0) return Error{Code::bad_key, "the RMS norm epsilon is negative"};
    h.rms_eps = **eps;

    auto base = float_key(f, k("rope.freq_base"));
    if (!base) return base.error();
    h.freq_base = base->value_or(10000.0);
    if (h.freq_base <= 0) return Error{Code::bad_key, "rope.freq_base must be positive"};

    if (const KeyValue* st = f.find(k("rope.scaling.type")); st != nullptr) {
        const auto type = st->value.type() == ValueType::string ? st->value.as_string() : std::string_view("?");
        if (type != "none" && type != "linear") {
            return Error{Code::unsupported_feature,
                         fmt::format("RoPE scaling '{}' is not implemented (none, linear)", type)};
        }
        if (type == "linear") {
            auto factor = float_key(f, k("rope.scaling.factor"));
            if (!factor) return factor.error();
            if (*factor && **factor > 0) h.freq_scale = 1.0 / **factor;
        }
    }
    if (auto experts = uint_key(f, k("expert_count"), kMaxDim); experts && *experts) {
        return Error{Code::unsupported_feature, "mixture-of-experts models are not implemented"};
    }

    h.kq_scale = 1.0 / std::sqrt(static_cast<double>(h.head_dim));
    if (h.arch == Arch::llama) {
        auto scale = float_key(f, k("attention.scale"));
        if (!scale) return scale.error();
        if (*scale && **scale != 0.0) h.kq_scale = **scale;
    }
    return h;
}

}  // namespace gguf::forward
