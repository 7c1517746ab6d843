#include "forward/model.hpp"

#include <fmt/format.h>
#include <array>
#include <map>
#include <set>
#include <string>

#include "forward/ops.hpp"
#include "gguf/data/quantize.hpp"

namespace gguf::forward {
namespace {

using ops::Matrix;

std::string dims_text(std::span<const std::uint64_t> dims) {
    return fmt::format("[{}]", fmt::join(dims, ", "));
}

// Tensor lookup and checks against the shapes llama.cpp's loader creates (create_tensor).
class Tensors {
public:
    explicit Tensors(const File& f) : f_(f) {}

    // The index of `name` in the file, checked for shape and type; kNone when optional and absent.
    Result<std::size_t> get(const std::string& name, std::vector<std::uint64_t> shape, bool required = true) {
        const auto& ts = f_.tensors();
        for (std::size_t i = 0; i < ts.size(); ++i) {
            if (ts[i].name != name) continue;
            used_.insert(name);
            if (!same_shape(ts[i].dims(), shape)) {
                return Error{Code::wrong_shape, fmt::format("tensor '{}' has wrong shape; expected {}, got {}", name,
                                                            dims_text(shape), dims_text(ts[i].dims()))};
            }
            if (auto probe = dequantize(static_cast<GgmlType>(ts[i].type), {}, 0);
                !probe && probe.error().code == gguf::Code::invalid_tensor_type) {
                return Error{Code::unsupported_type, fmt::format("tensor '{}' is of type {}, which the library cannot "
                                                                 "dequantize",
                                                                 name, ts[i].traits.name)};
            }
            return i;
        }
        if (!required) return static_cast<std::size_t>(-1);
        return Error{Code::missing_tensor, fmt::format("tensor '{}' not found", name)};
    }

    // The first tensor of the file that no get() asked for.
    const TensorInfo* unused() const {
        for (const auto& t : f_.tensors()) {
            if (!used_.contains(std::string(t.name))) return &t;
        }
        return nullptr;
    }

private:
    // Equal after padding both with trailing 1s, as ggml compares ne[0..3].
    static bool same_shape(std::span<const std::uint64_t> got, const std::vector<std::uint64_t>& want) {
        const std::size_t n = std::max(got.size(), want.size());
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint64_t g = i < got.size() ? got[i] : 1, w = i < want.size() ? want[i] : 1;
            if (g != w) return false;
        }
        return true;
    }

    const File& f_;
    std::set<std::string> used_;
};

// Names each tensor as llama.cpp's graph does and counts occurrences of each name.
class Emitter {
public:
    explicit Emitter(TraceSink* sink) : sink_(sink) {}

    void operator()(const std::string& name, const Matrix& m, std::vector<std::size_t> shape = {}) {
        if (sink_ == nullptr) return;
        if (shape.empty()) shape = {m.rows, m.cols};
        sink_->tensor(TraceTensor{name, count_[name]++, shape, m.v});
    }
    void operator()(const std::string& name, int layer, const Matrix& m, std::vector<std::size_t> shape = {}) {
        (*this)(layer < 0 ? name : fmt::format("{}-{}", name, layer), m, std::move(shape));
    }

private:
    TraceSink* sink_;
    std::map<std::string, std::uint32_t> count_;
};

}  // namespace

#define FWD_TRY(var, expr)                \
    auto var##_r = (expr);                \
    if (!var##_r) return var##_r.error(); \
    const auto var = std::move(*var##_r)

Result<Model> Model::load(const File& file) {
    if (file.byte_swapped()) {
        return Error{Code::unsupported_feature, "the file is byte-swapped (big-endian); its tensor data is not read"};
    }
    auto h = read_hparams(file);
    if (!h) return h.error();
    Model m;
    m.file_ = file;
    m.h_ = *h;
    Hparams& hp = m.h_;
    Tensors t(m.file_);

    const TensorInfo* embd = m.file_.find_tensor("token_embd.weight");
    if (embd == nullptr) return Error{Code::missing_tensor, "tensor 'token_embd.weight' not found"};
    if (embd->n_dims != 2 || embd->ne[1] == 0 || embd->ne[1] > (std::uint64_t{1} << 24)) {
        return Error{Code::wrong_shape,
                     fmt::format("tensor 'token_embd.weight' has wrong shape; expected [{}, n_vocab], "
                                 "got {}",
                                 hp.n_embd, dims_text(embd->dims()))};
    }
    hp.n_vocab = static_cast<std::uint32_t>(embd->ne[1]);
    const std::uint64_t e = hp.n_embd, v = hp.n_vocab, q = hp.n_embd_q(), kv = hp.n_embd_kv(), ff = hp.n_ff;
    const bool bitnet = hp.arch == Arch::bitnet;

    FWD_TRY(token_embd, t.get("token_embd.weight", {e, v}));
    FWD_TRY(output_norm, t.get("output_norm.weight", {e}));
    m.token_embd_ = token_embd;
    m.output_norm_ = output_norm;
    if (!bitnet) {  // llama: optional, tied to token_embd when absent; bitnet always uses token_embd
        FWD_TRY(output, t.get("output.weight", {e, v}, false));
        m.output_ = output == kNone ? token_embd : output;
    } else {
        m.output_ = token_embd;
    }
    for (std::uint32_t i = 0; i < hp.n_layer; ++i) {
        const auto n = [i](std::string_view s) { return fmt::format("blk.{}.{}", i, s); };
        Layer l{};
        FWD_TRY(attn_norm, t.get(n("attn_norm.weight"), {e}));
        FWD_TRY(wq, t.get(n("attn_q.weight"), {e, q}));
        FWD_TRY(wk, t.get(n("attn_k.weight"), {e, kv}));
        FWD_TRY(wv, t.get(n("attn_v.weight"), {e, kv}));
        FWD_TRY(wo, t.get(n("attn_output.weight"), {q, e}));
        FWD_TRY(ffn_norm, t.get(n("ffn_norm.weight"), {e}));
        FWD_TRY(ffn_gate, t.get(n("ffn_gate.weight"), {e, ff}));
        FWD_TRY(ffn_up, t.get(n("ffn_up.weight"), {e, ff}));
        FWD_TRY(ffn_down, t.get(n("ffn_down.weight"), {ff, e}));
        l.attn_norm = attn_norm;
        l.wq = wq;
        l.wk = wk;
        l.wv = wv;
        l.wo = wo;
        l.ffn_norm = ffn_norm;
        l.ffn_gate = ffn_gate;
        l.ffn_up = ffn_up;
        l.ffn_down = ffn_down;
        if (bitnet) {
            FWD_TRY(attn_sub_norm, t.get(n("attn_sub_norm.weight"), {e}));
            FWD_TRY(ffn_sub_norm, t.get(n("ffn_sub_norm.weight"), {ff}));
            FWD_TRY(wq_s, t.get(n("attn_q.scale"), {1}, false));
            FWD_TRY(wk_s, t.get(n("attn_k.scale"), {1}, false));
            FWD_TRY(wv_s, t.get(n("attn_v.scale"), {1}, false));
            FWD_TRY(wo_s, t.get(n("attn_output.scale"), {1}, false));
            FWD_TRY(ffn_gate_s, t.get(n("ffn_gate.scale"), {1}, false));
            FWD_TRY(ffn_up_s, t.get(n("ffn_up.scale"), {1}, false));
            FWD_TRY(ffn_down_s, t.get(n("ffn_down.scale"), {1}, false));
            l.attn_sub_norm = attn_sub_norm;
            l.ffn_sub_norm = ffn_sub_norm;
            l.wq_s = wq_s;
            l.wk_s = wk_s;
            l.wv_s = wv_s;
            l.wo_s = wo_s;
            l.ffn_gate_s = ffn_gate_s;
            l.ffn_up_s = ffn_up_s;
            l.ffn_down_s = ffn_down_s;
        }
        m.layers_.push_back(l);
    }
    if (const TensorInfo* extra = t.unused(); extra != nullptr) {
        return Error{Code::unsupported_feature,
                     fmt::format("tensor '{}' is not part of the {} graph the forward pass implements (biases, RoPE "
                                 "frequency factors, experts and extra layers are not implemented)",
                                 extra->name, hp.arch_name)};
    }
    return m;
}

Result<std::vector<float>> Model::weights(std::size_t index) const {
    const TensorInfo& t = file_.tensors()[index];
    std::uint64_t n = 1;
    for (auto d : t.dims()) n *= d;  // fits: the reader checked the element count
    auto values = dequantize(static_cast<GgmlType>(t.type), t.data, n);
    if (!values) return Error{Code::bad_data, fmt::format("tensor '{}': {}", t.name, values.error().message)};
    return std::move(*values);
}

const char* activations_name(Activations a) {
    return a == Activations::exact ? "exact" : "llama-cpp-cpu";
}

Result<std::vector<float>> Model::run(std::span<const std::int32_t> tokens, TraceSink* sink,
                                      Activations activations) const {
    if (tokens.empty()) return Error{Code::bad_tokens, "no tokens to decode"};
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        if (tokens[i] < 0 || static_cast<std::uint32_t>(tokens[i]) >= h_.n_vocab) {
            return Error{Code::bad_tokens, fmt::format("token {} at position {} is outside the vocabulary 0..{}",
                                                       tokens[i], i, h_.n_vocab - 1)};
        }
    }
    const std::size_t n_tok = tokens.size(), e = h_.n_embd, hd = h_.head_dim;
    const bool bitnet = h_.arch == Arch::bitnet;
    Emitter emit(sink);

    // A matrix product with a weight tensor, times its per-matrix scale when it has one.
    const auto project = [&](std::size_t w, std::size_t s, const Matrix& x) -> Result<Matrix> {
        auto wv = weights(w);
        if (!wv) return wv.error();
        Matrix out;
        if (activations == Activations::like_llama_cpp_cpu) {
            Matrix rounded = x;
            ops::round_like_vec_dot(rounded, static_cast<GgmlType>(file_.tensors()[w].type));
            out = ops::matmul(*wv, file_.tensors()[w].ne[1], rounded);
        } else {
            out = ops::matmul(*wv, file_.tensors()[w].ne[1], x);
        }
        if (s != kNone) {
            auto sv = weights(s);
            if (!sv) return sv.error();
            ops::scale(out, (*sv)[0]);
        }
        return out;
    };
    // RMS norm, then the weight: llama.cpp names the first "norm-L" and the second `name`.
    const auto norm = [&](std::size_t w, const Matrix& x, const std::string& name, int layer) -> Result<Matrix> {
        auto wv = weights(w);
        if (!wv) return wv.error();
        const Matrix plain = ops::rms_norm(x, h_.rms_eps);
        emit("norm", layer, plain);
        Matrix out = ops::rms_norm(x, h_.rms_eps, *wv);
        emit(name, layer, out);
        return out;
    };

    // Token embeddings: only the rows of the tokens are dequantized (I2_S, whose scale sits after
    // all rows, is dequantized whole).
    Matrix x(n_tok, e);
    {
        const TensorInfo& te = file_.tensors()[token_embd_];
        if (te.type == kTypeI2S) {
            FWD_TRY(all, weights(token_embd_));
            for (std::size_t i = 0; i < n_tok; ++i) {
                const auto tok = static_cast<std::size_t>(tokens[i]);
                std::copy(all.begin() + static_cast<long>(tok * e), all.begin() + static_cast<long>((tok + 1) * e),
                          x.row(i).begin());
            }
        } else {
            const std::size_t row_bytes = te.size / te.ne[1];
            for (std::size_t i = 0; i < n_tok; ++i) {
                const auto tok = static_cast<std::size_t>(tokens[i]);
                auto row = dequantize(static_cast<GgmlType>(te.type), te.data.subspan(tok * row_bytes, row_bytes), e);
                if (!row)
                    return Error{Code::bad_data, fmt::format("tensor 'token_embd.weight': {}", row.error().message)};
                std::copy(row->begin(), row->end(), x.row(i).begin());
            }
        }
    }
    emit("inp_embd", -1, x);

    for (std::size_t il = 0; il < layers_.size(); ++il) {
        const Layer& L = layers_[il];
        const int li = static_cast<int>(il);
        const Matrix& inp_sa = x;

        FWD_TRY(cur, norm(L.attn_norm, x, "attn_norm", li));
        FWD_TRY(q0, project(L.wq, L.wq_s, cur));
        FWD_TRY(k0, project(L.wk, L.wk_s, cur));
        FWD_TRY(v, project(L.wv, L.wv_s, cur));
        // llama.cpp: the projection, then its reshape to [n_tokens, n_head, head_dim], both "Qcur-L".
        emit("Qcur", li, q0);
        emit("Qcur", li, q0, {n_tok, h_.n_head, hd});
        emit("Kcur", li, k0);
        emit("Kcur", li, k0, {n_tok, h_.n_head_kv, hd});
        emit("Vcur", li, v);
        emit("Vcur", li, v, {n_tok, h_.n_head_kv, hd});
        Matrix q = q0, k = k0;
        ops::rope(q, hd, h_.n_rot, h_.freq_base, h_.freq_scale, h_.rope);
        ops::rope(k, hd, h_.n_rot, h_.freq_base, h_.freq_scale, h_.rope);
        emit("Qcur", li, q, {n_tok, h_.n_head, hd});
        emit("Kcur", li, k, {n_tok, h_.n_head_kv, hd});

        Matrix att = ops::attention(q, k, v, h_.n_head, h_.n_head_kv, hd, h_.kq_scale);
        emit("kqv_out", li, att);
        if (bitnet) {
            FWD_TRY(sub, norm(L.attn_sub_norm, att, "attn_sub_norm", li));
            att = sub;
        }
        FWD_TRY(attn_out, project(L.wo, L.wo_s, att));
        emit("attn_out", li, attn_out);
        const Matrix ffn_inp = ops::add(attn_out, inp_sa);
        emit("ffn_inp", li, ffn_inp);

        FWD_TRY(fn, norm(L.ffn_norm, ffn_inp, "ffn_norm", li));
        FWD_TRY(up, project(L.ffn_up, kNone, fn));
        emit("ffn_up", li, up);
        Matrix up_s = up;
        if (L.ffn_up_s != kNone) {
            FWD_TRY(s, weights(L.ffn_up_s));
            ops::scale(up_s, s[0]);
            emit("ffn_up_s", li, up_s);
        }
        FWD_TRY(gate, project(L.ffn_gate, kNone, fn));
        emit("ffn_gate", li, gate);
        Matrix gate_s = gate;
        if (L.ffn_gate_s != kNone) {
            FWD_TRY(s, weights(L.ffn_gate_s));
            ops::scale(gate_s, s[0]);
            emit("ffn_gate_s", li, gate_s);
        }
        Matrix act = ops::swiglu(gate_s, up_s);
        Matrix ffn_out;
        if (bitnet) {
            emit("ffn_sub_out", li, act);
            FWD_TRY(sub, norm(L.ffn_sub_norm, act, "ffn_sub_norm", li));
            FWD_TRY(down, project(L.ffn_down, L.ffn_down_s, sub));
            emit("ffn_down", li, down);
            ffn_out = down;
        } else {
            emit("ffn_swiglu", li, act);
            FWD_TRY(down, project(L.ffn_down, kNone, act));
            emit("ffn_out", li, down);
            ffn_out = down;
        }
        x = ops::add(ffn_out, ffn_inp);
        emit("l_out", li, x);
    }

    FWD_TRY(result_norm, norm(output_norm_, x, "result_norm", -1));
    FWD_TRY(logits, project(output_, kNone, result_norm));
    emit("result_output", -1, logits);
    return logits.v;
}

#undef FWD_TRY

}  // namespace gguf::forward
