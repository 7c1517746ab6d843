// The built-in forward pass without the reference: its operations on values worked out by hand,
// its checks of hostile files (each failure a value naming the tensor or key), causality, and the
// names and shapes of the tensors it hands to a trace sink.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "fixtures/tiny_model.hpp"
#include "forward/model.hpp"
#include "forward/ops.hpp"
#include "gguf/data/quantize.hpp"
#include "gguf/reader.hpp"

using gguf::fixtures::TinyArch;
using gguf::fixtures::TinyType;
using gguf::forward::Code;
using gguf::forward::Model;
using gguf::forward::RopeMode;
using gguf::forward::ops::Matrix;

namespace {

Matrix matrix(std::size_t rows, std::size_t cols, std::vector<float> v) {
    Matrix m(rows, cols);
    m.v = std::move(v);
    return m;
}

// A model file held in memory, with its parsed view.
struct Bytes {
    std::vector<std::byte> bytes;
    gguf::File file() const {
        auto f = gguf::parse({bytes.data(), bytes.size()});
        EXPECT_TRUE(f) << f.error().message;
        return *f;
    }
};

Bytes tiny(TinyArch arch, TinyType type) {
    return {gguf::fixtures::tiny_model({arch, type, 42})->to_bytes()};
}

// A copy of the tiny llama model with its key-values and tensors passed through `edit_kv` and
// `edit_tensor` (return false to drop the item).
struct Edit {
    std::function<bool(std::string&, gguf::Value&)> kv = [](std::string&, gguf::Value&) { return true; };
    std::function<bool(std::string&, std::vector<std::uint64_t>&, std::vector<std::byte>&)> tensor =
        [](std::string&, std::vector<std::uint64_t>&, std::vector<std::byte>&) { return true; };
    std::vector<std::pair<std::string, std::vector<float>>> add_f32;  // 1-D tensors to add
};

Bytes edited(const Edit& e) {
    const Bytes base = tiny(TinyArch::llama, TinyType::f32);
    const gguf::File f = base.file();
    gguf::Writer w;
    for (const auto& kv : f.kvs()) {
        std::string key(kv.key);
        auto value = gguf::Value::from_view(kv.value);
        if (e.kv(key, value)) w.add(key, value);
    }
    for (const auto& t : f.tensors()) {
        std::string name(t.name);
        std::vector<std::uint64_t> dims(t.dims().begin(), t.dims().end());
        std::vector<std::byte> data(t.data.begin(), t.data.end());
        if (e.tensor(name, dims, data)) EXPECT_TRUE(w.add_tensor(name, t.type, dims, std::move(data)).ok());
    }
    for (const auto& [name, values] : e.add_f32) {
        EXPECT_TRUE(
            w.add_tensor(name, 0, {values.size()}, *gguf::quantize(gguf::GgmlType::F32, values, values.size())).ok());
    }
    return {w.to_bytes()};
}

void expect_error(const Bytes& b, Code code, const std::string& needle) {
    const auto m = Model::load(b.file());
    ASSERT_FALSE(m) << "loaded";
    EXPECT_EQ(m.error().code, code) << m.error().message;
    EXPECT_NE(m.error().message.find(needle), std::string::npos) << m.error().message;
}

}  // namespace

// ---- Operations ---------------------------------------------------------------------------------

TEST(ForwardOps, RmsNormDividesByTheRootMeanSquare) {
    // [3, 4]: mean of squares 12.5, so 3/sqrt(12.5) and 4/sqrt(12.5); then times the weight.
    const auto y = gguf::forward::ops::rms_norm(matrix(1, 2, {3, 4}), 0.0, std::vector<float>{1.0f, 2.0f});
    EXPECT_NEAR(y.v[0], 3.0 / std::sqrt(12.5), 1e-6);
    EXPECT_NEAR(y.v[1], 2 * 4.0 / std::sqrt(12.5), 1e-6);
    // eps is added to the mean: [1, 1] with eps 3 gives 1/sqrt(4) = 0.5
    EXPECT_NEAR(gguf::forward::ops::rms_norm(matrix(1, 2, {1, 1}), 3.0).v[0], 0.5, 1e-7);
}

TEST(ForwardOps, RopeNormalRotatesAdjacentPairs) {
    // head_dim 4, n_rot 4, base 10000: pair 0 turns by pos rad, pair 1 by pos * 10000^(-1/2) = pos / 100.
    auto x = matrix(2, 4, {1, 0, 1, 0, 1, 0, 1, 0});
    gguf::forward::ops::rope(x, 4, 4, 10000.0, 1.0, RopeMode::normal);
    const std::vector<double> pos0{1, 0, 1, 0}, pos1{std::cos(1.0), std::sin(1.0), std::cos(0.01), std::sin(0.01)};
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(x.v[i], pos0[i], 1e-7) << i;
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(x.v[4 + i], pos1[i], 1e-7) << i;
}

TEST(ForwardOps, RopeNeoxRotatesElementsHalfAHeadApart) {
    // Pairs (0, 2) and (1, 3); at position 1: (1, 0) -> (cos 1, sin 1), (1, 0) -> (cos .01, sin .01).
    auto x = matrix(2, 4, {0, 0, 0, 0, 1, 1, 0, 0});
    gguf::forward::ops::rope(x, 4, 4, 10000.0, 1.0, RopeMode::neox);
    EXPECT_NEAR(x.v[4], std::cos(1.0), 1e-7);
    EXPECT_NEAR(x.v[6], std::sin(1.0), 1e-7);
    EXPECT_NEAR(x.v[5], std::cos(0.01), 1e-7);
    EXPECT_NEAR(x.v[7], std::sin(0.01), 1e-7);
}

TEST(ForwardOps, RopeLeavesDimensionsBeyondNRot) {
    auto x = matrix(2, 4, {0, 0, 0, 0, 1, 0, 5, 6});
    gguf::forward::ops::rope(x, 4, 2, 10000.0, 1.0, RopeMode::normal);
    EXPECT_NEAR(x.v[4], std::cos(1.0), 1e-7);
    EXPECT_EQ(x.v[6], 5.0f);
    EXPECT_EQ(x.v[7], 6.0f);
}

TEST(ForwardOps, AttentionIsCausalAndGroupsQueryHeadsOntoKvHeads) {
    // 2 query heads of size 1 share 1 KV head; 2 tokens with equal keys: token 0 sees only v0,
    // token 1 averages v0 and v1 (equal scores), for both heads.
    const auto q = matrix(2, 2, {1, 1, 1, 1});
    const auto k = matrix(2, 1, {1, 1});
    const auto v = matrix(2, 1, {2, 4});
    const auto out = gguf::forward::ops::attention(q, k, v, 2, 1, 1, 1.0);
    EXPECT_FLOAT_EQ(out.v[0], 2.0f);
    EXPECT_FLOAT_EQ(out.v[1], 2.0f);
    EXPECT_FLOAT_EQ(out.v[2], 3.0f);
    EXPECT_FLOAT_EQ(out.v[3], 3.0f);
    // Scores are scaled: q.k = 1 vs 0 with scale ln 3 gives weights 3/4 and 1/4.
    const auto out2 =
        gguf::forward::ops::attention(matrix(2, 1, {1, 1}), matrix(2, 1, {0, 1}), v, 1, 1, 1, std::log(3.0));
    EXPECT_NEAR(out2.v[1], 0.25 * 2 + 0.75 * 4, 1e-6);
}

TEST(ForwardOps, SwigluIsSiluOfGateTimesUp) {
    const auto y = gguf::forward::ops::swiglu(matrix(1, 2, {0, 2}), matrix(1, 2, {5, 3}));
    EXPECT_FLOAT_EQ(y.v[0], 0.0f);
    EXPECT_NEAR(y.v[1], 2.0 / (1.0 + std::exp(-2.0)) * 3.0, 1e-6);
}

TEST(ForwardOps, MatmulUsesRowsOfTheWeight) {
    // w = [[1, 2], [3, 4], [5, 6]] (ne = [2, 3]); x = [1, 1] -> [3, 7, 11]
    const std::vector<float> w{1, 2, 3, 4, 5, 6};
    const auto y = gguf::forward::ops::matmul(w, 3, matrix(1, 2, {1, 1}));
    EXPECT_EQ(y.v, (std::vector<float>{3, 7, 11}));
}

// ---- Loading ------------------------------------------------------------------------------------

TEST(ForwardLoad, ReadsTheHyperparametersOfEveryTinyModel) {
    for (auto [arch, type] : {std::pair{TinyArch::llama, TinyType::f32},
                              {TinyArch::llama, TinyType::f16},
                              {TinyArch::llama, TinyType::q8_0},
                              {TinyArch::bitnet, TinyType::f16},
                              {TinyArch::bitnet, TinyType::q8_0},
                              {TinyArch::bitnet, TinyType::tq1_0},
                              {TinyArch::bitnet, TinyType::tq2_0}}) {
        const auto b = tiny(arch, type);
        const auto m = Model::load(b.file());
        ASSERT_TRUE(m) << m.error().message;
        const auto s = gguf::fixtures::tiny_shape(arch);
        const auto& h = m->hparams();
        EXPECT_EQ(h.n_vocab, s.n_vocab);
        EXPECT_EQ(h.n_embd, s.n_embd);
        EXPECT_EQ(h.n_layer, s.n_layer);
        EXPECT_EQ(h.n_head, s.n_head);
        EXPECT_EQ(h.n_head_kv, s.n_head_kv);
        EXPECT_EQ(h.n_ff, s.n_ff);
        EXPECT_EQ(h.head_dim, s.n_embd / s.n_head);
        EXPECT_EQ(h.rope, arch == TinyArch::llama ? RopeMode::normal : RopeMode::neox);
        EXPECT_NEAR(h.rms_eps, 1e-5, 1e-12);
    }
}

TEST(ForwardLoad, AMissingTensorIsNamed) {
    Edit e;
    e.tensor = [](std::string& name, auto&, auto&) { return name != "blk.1.ffn_down.weight"; };
    expect_error(edited(e), Code::missing_tensor, "blk.1.ffn_down.weight");
}

TEST(ForwardLoad, AWrongShapeIsNamedWithBothShapes) {
    Edit e;  // attn_k [32, 16] -> [16, 32]: same bytes, transposed shape
    e.tensor = [](std::string& name, std::vector<std::uint64_t>& dims, auto&) {
        if (name == "blk.0.attn_k.weight") dims = {16, 32};
        return true;
    };
    expect_error(edited(e), Code::wrong_shape,
                 "tensor 'blk.0.attn_k.weight' has wrong shape; expected [32, 16], got [16, 32]");
}

TEST(ForwardLoad, AnUnknownArchitectureIsRefused) {
    Edit e;
    e.kv = [](std::string& key, gguf::Value& v) {
        if (key == "general.architecture") v = gguf::Value::string("gpt2");
        return true;
    };
    expect_error(edited(e), Code::unsupported_architecture, "gpt2");
}

TEST(ForwardLoad, AMissingHyperparameterIsNamed) {
    Edit e;
    e.kv = [](std::string& key, gguf::Value&) { return key != "llama.attention.layer_norm_rms_epsilon"; };
    expect_error(edited(e), Code::missing_key, "llama.attention.layer_norm_rms_epsilon");
}

TEST(ForwardLoad, InconsistentHeadCountsAreRefused) {
    Edit e;
    e.kv = [](std::string& key, gguf::Value& v) {
        if (key == "llama.attention.head_count_kv") v = gguf::Value::u32(3);
        return true;
    };
    expect_error(edited(e), Code::bad_key, "not a multiple of 3 KV heads");
}

TEST(ForwardLoad, HyperparametersOfTheWrongTypeOrRangeAreRefused) {
    for (auto value : {gguf::Value::string("2"), gguf::Value::u32(0), gguf::Value::i32(-1),
                       gguf::Value::array(gguf::ValueType::uint32, {gguf::Value::u32(2), gguf::Value::u32(2)}),
                       gguf::Value::u64(std::uint64_t{1} << 40)}) {
        Edit e;
        e.kv = [value](std::string& key, gguf::Value& v) {
            if (key == "llama.block_count") v = value;
            return true;
        };
        expect_error(edited(e), Code::bad_key, "llama.block_count");
    }
}

TEST(ForwardLoad, AHeadSizeWhoseProductWithTheHeadCountOverflowsIsRefused) {
    // 2^24 heads of 2^24 elements (key_length): the product wraps in 32 bits; refused, not wrapped.
    const Bytes base = tiny(TinyArch::llama, TinyType::f32);
    const gguf::File f = base.file();
    gguf::Writer w;
    for (const auto& kv : f.kvs()) {
        const bool heads = kv.key == "llama.attention.head_count" || kv.key == "llama.attention.head_count_kv";
        w.add(std::string(kv.key), heads ? gguf::Value::u32(1u << 24) : gguf::Value::from_view(kv.value));
    }
    w.add("llama.attention.key_length", gguf::Value::u32(1u << 24));
    for (const auto& t : f.tensors()) {
        ASSERT_TRUE(w.add_tensor(std::string(t.name), t.type, {t.dims().begin(), t.dims().end()},
                                 std::vector<std::byte>(t.data.begin(), t.data.end()))
                        .ok());
    }
    expect_error({w.to_bytes()}, Code::bad_key, "exceeds");
}

TEST(ForwardLoad, ATensorTheGraphDoesNotUseIsNamed) {
    Edit e;
    e.add_f32 = {{"blk.0.attn_output.bias", std::vector<float>(32, 0.0f)}};
    expect_error(edited(e), Code::unsupported_feature, "blk.0.attn_output.bias");
}

TEST(ForwardLoad, AnUnsupportedTensorTypeIsNamed) {
    // blk.0.attn_q.weight as Q4_0 (id 2; 32 elements in 18 bytes), zero blocks.
    const Bytes base = tiny(TinyArch::llama, TinyType::f32);
    const gguf::File f = base.file();
    gguf::Writer w;
    for (const auto& kv : f.kvs()) w.add(std::string(kv.key), gguf::Value::from_view(kv.value));
    for (const auto& t : f.tensors()) {
        const bool q = t.name == "blk.0.attn_q.weight";
        std::vector<std::byte> data(t.data.begin(), t.data.end());
        if (q) data.assign(32 / 32 * 32 * 18, std::byte{0});
        ASSERT_TRUE(
            w.add_tensor(std::string(t.name), q ? 2u : t.type, {t.dims().begin(), t.dims().end()}, std::move(data))
                .ok());
    }
    const Bytes typed{w.to_bytes()};
    if (gguf::dequantize(gguf::GgmlType::Q4_0, {}, 0)) {
        EXPECT_TRUE(Model::load(typed.file())) << "Q4_0 is dequantized by this library: the file loads";
    } else {
        expect_error(typed, Code::unsupported_type, "blk.0.attn_q.weight");
    }
}

// ---- Running ------------------------------------------------------------------------------------

TEST(ForwardRun, TokensOutsideTheVocabularyAreRefused) {
    const auto b = tiny(TinyArch::llama, TinyType::f32);
    const auto m = Model::load(b.file());
    ASSERT_TRUE(m);
    for (const std::vector<std::int32_t>& bad : {std::vector<std::int32_t>{}, {1, 275}, {-1}}) {
        const auto r = m->run(bad);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code, Code::bad_tokens) << r.error().message;
    }
    EXPECT_TRUE(m->run(std::vector<std::int32_t>{274}));
}

TEST(ForwardRun, LogitsArePerPositionAndCausal) {
    for (auto [arch, type] : {std::pair{TinyArch::llama, TinyType::f32}, {TinyArch::bitnet, TinyType::tq2_0}}) {
        const auto b = tiny(arch, type);
        const auto m = Model::load(b.file());
        ASSERT_TRUE(m);
        const auto a = m->run(std::vector<std::int32_t>{1, 75, 108});
        const auto c = m->run(std::vector<std::int32_t>{1, 75, 200});
        ASSERT_TRUE(a && c);
        const std::size_t v = m->hparams().n_vocab;
        ASSERT_EQ(a->size(), 3 * v);
        for (float x : *a) ASSERT_TRUE(std::isfinite(x));
        // positions 0 and 1 cannot see token 2
        EXPECT_TRUE(std::equal(a->begin(), a->begin() + 2 * static_cast<long>(v), c->begin()));
        EXPECT_FALSE(
            std::equal(a->begin() + 2 * static_cast<long>(v), a->end(), c->begin() + 2 * static_cast<long>(v)));
    }
}

namespace {

struct Recorder : gguf::forward::TraceSink {
    struct Entry {
        std::string name;
        std::uint32_t occurrence;
        std::vector<std::size_t> shape;
        std::vector<float> data;
    };
    std::vector<Entry> entries;
    void tensor(const gguf::forward::TraceTensor& t) override {
        entries.push_back(
            {std::string(t.name), t.occurrence, {t.shape.begin(), t.shape.end()}, {t.data.begin(), t.data.end()}});
    }
    const Entry* last(const std::string& name) const {
        const Entry* e = nullptr;
        for (const auto& x : entries)
            if (x.name == name) e = &x;
        return e;
    }
};

}  // namespace

TEST(ForwardTrace, NamesEachTensorAsLlamaCppsGraphDoes) {
    const auto b = tiny(TinyArch::llama, TinyType::f32);
    const auto m = Model::load(b.file());
    ASSERT_TRUE(m);
    Recorder rec;
    const auto logits = m->run(std::vector<std::int32_t>{1, 75, 108, 36}, &rec);
    ASSERT_TRUE(logits);
    std::vector<std::string> layer0;
    for (const auto& e : rec.entries) {
        if (e.name.ends_with("-0")) layer0.push_back(e.name);
    }
    EXPECT_EQ(layer0, (std::vector<std::string>{"norm-0",    "attn_norm-0", "Qcur-0",       "Qcur-0",    "Kcur-0",
                                                "Kcur-0",    "Vcur-0",      "Vcur-0",       "Qcur-0",    "Kcur-0",
                                                "kqv_out-0", "attn_out-0",  "ffn_inp-0",    "norm-0",    "ffn_norm-0",
                                                "ffn_up-0",  "ffn_gate-0",  "ffn_swiglu-0", "ffn_out-0", "l_out-0"}));
    // Qcur-0: the projection [4, 32], its reshape and the RoPE output [4, 4 heads, 8]
    const auto* q = rec.last("Qcur-0");
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->occurrence, 2u);
    EXPECT_EQ(q->shape, (std::vector<std::size_t>{4, 4, 8}));
    EXPECT_EQ(rec.last("Kcur-1")->shape, (std::vector<std::size_t>{4, 2, 8}));
    EXPECT_EQ(rec.last("l_out-1")->shape, (std::vector<std::size_t>{4, 32}));
    EXPECT_EQ(rec.entries.front().name, "inp_embd");
    EXPECT_EQ(rec.entries.back().name, "result_output");
    EXPECT_EQ(rec.entries.back().data, *logits);
    // The residual stream: l_out = ffn_out + ffn_inp, ffn_inp = attn_out + inp_embd (layer 0).
    const auto &inp = *rec.last("inp_embd"), &ao = *rec.last("attn_out-0"), &fi = *rec.last("ffn_inp-0");
    const auto &fo = *rec.last("ffn_out-0"), &lo = *rec.last("l_out-0");
    for (std::size_t i = 0; i < fi.data.size(); ++i) {
        EXPECT_EQ(fi.data[i], ao.data[i] + inp.data[i]);
        EXPECT_EQ(lo.data[i], fo.data[i] + fi.data[i]);
    }
    // inp_embd is the token's row of token_embd.weight
    const auto file1 = b.file();  // the File must outlive the views into it
    const auto* te = file1.find_tensor("token_embd.weight");
    const auto row = gguf::dequantize(gguf::GgmlType::F32, te->data.subspan(75 * 32 * 4, 32 * 4), 32);
    EXPECT_TRUE(std::equal(row->begin(), row->end(), inp.data.begin() + 32));
}

TEST(ForwardTrace, BitnetHasSubNormsAndScaledProjections) {
    const auto b = tiny(TinyArch::bitnet, TinyType::f16);
    const auto m = Model::load(b.file());
    ASSERT_TRUE(m);
    Recorder rec;
    ASSERT_TRUE(m->run(std::vector<std::int32_t>{1, 75}, &rec));
    std::vector<std::string> names;
    for (const auto& e : rec.entries) {
        if (e.name.ends_with("-0") && e.name.rfind("norm-", 0) != 0) names.push_back(e.name);
    }
    EXPECT_EQ(names,
              (std::vector<std::string>{
                  "attn_norm-0",   "Qcur-0",         "Qcur-0",     "Kcur-0",     "Kcur-0",          "Vcur-0",
                  "Vcur-0",        "Qcur-0",         "Kcur-0",     "kqv_out-0",  "attn_sub_norm-0", "attn_out-0",
                  "ffn_inp-0",     "ffn_norm-0",     "ffn_up-0",   "ffn_up_s-0", "ffn_gate-0",      "ffn_gate_s-0",
                  "ffn_sub_out-0", "ffn_sub_norm-0", "ffn_down-0", "l_out-0"}));
    // ffn_up_s = ffn_up * blk.0.ffn_up.scale
    const auto file2 = b.file();  // the File must outlive the views into it
    const auto* s = file2.find_tensor("blk.0.ffn_up.scale");
    const float scale = *gguf::dequantize(gguf::GgmlType::F32, s->data, 1)->begin();
    const auto &up = *rec.last("ffn_up-0"), &ups = *rec.last("ffn_up_s-0");
    for (std::size_t i = 0; i < up.data.size(); ++i) EXPECT_EQ(ups.data[i], up.data[i] * scale);
}
