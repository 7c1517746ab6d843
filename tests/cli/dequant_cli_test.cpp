// gguf-crossval dequant as a user runs it: every tensor (or those named) as f32 safetensors, named
// as in the GGUF file with the shape in row-major order. The values must be the library's
// dequantization bit for bit (which tests/crossval/dequant_reference_test.cpp holds to ggml's).
#include <gtest/gtest.h>

#include <cstring>

#include "fixtures/tiny_model.hpp"
#include "gguf/data/quantize.hpp"
#include "gguf/reader.hpp"
#include "gguf/writer.hpp"
#include "safetensors/safetensors.hpp"
#include "support/run.hpp"
#include "support/temp_dir.hpp"

using namespace testing_support;

namespace {

const std::string kBin = GGUF_CROSSVAL_BIN;

class DequantCli : public testing_support::TempDirTest {
protected:
    RunResult run(const std::string& args) { return run_command(kBin + " dequant " + args); }
    std::filesystem::path model(gguf::fixtures::TinyType type) {
        const auto path = dir_ / "m.gguf";
        auto w = gguf::fixtures::tiny_model({gguf::fixtures::TinyArch::bitnet, type});
        EXPECT_TRUE(w);
        EXPECT_TRUE(w->write_file(path).ok());
        return path;
    }
};

}  // namespace

TEST_F(DequantCli, WritesEveryTensorAsF32NamedAsInTheFile) {
    const auto path = model(gguf::fixtures::TinyType::tq2_0);
    const auto out = dir_ / "out.safetensors";
    auto r = run(quoted(path) + " --out " + quoted(out));
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    auto gg = gguf::open(path);
    ASSERT_TRUE(gg);
    auto st = gguf::safetensors::open(out);
    ASSERT_TRUE(st) << st.error().message;
    ASSERT_EQ(st->tensors.size(), gg->tensors().size());
    for (const auto& t : gg->tensors()) {
        const auto* s = st->find(t.name);
        ASSERT_NE(s, nullptr) << t.name;
        EXPECT_EQ(s->dtype, gguf::safetensors::Dtype::F32);
        std::vector<std::uint64_t> reversed(t.ne.begin(), t.ne.begin() + t.n_dims);
        std::reverse(reversed.begin(), reversed.end());
        EXPECT_EQ(s->shape, reversed) << t.name;
        const auto n = *gguf::element_count(t.dims());
        auto expect = gguf::dequantize(static_cast<gguf::GgmlType>(t.type), t.data, n);
        ASSERT_TRUE(expect);
        ASSERT_EQ(s->data.size(), n * 4);
        EXPECT_EQ(std::memcmp(s->data.data(), expect->data(), n * 4), 0) << t.name;
    }
    EXPECT_EQ(st->meta("gguf_type.blk.0.attn_q.weight"), std::optional<std::string_view>("TQ2_0"));
}

TEST_F(DequantCli, TensorSelectsAndAnUnknownNameIsAUsageError) {
    const auto path = model(gguf::fixtures::TinyType::q8_0);
    const auto out = dir_ / "one.safetensors";
    auto r = run(quoted(path) + " --tensor blk.0.ffn_up.weight --out " + quoted(out));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto st = gguf::safetensors::open(out);
    ASSERT_TRUE(st);
    ASSERT_EQ(st->tensors.size(), 1u);
    EXPECT_EQ(st->tensors[0].name, "blk.0.ffn_up.weight");
    EXPECT_EQ(run(quoted(path) + " --tensor no.such.tensor --out " + quoted(out)).exit_code, 2);
}

TEST_F(DequantCli, ATypeWeCannotDequantizeIsNamedAndExitsOne) {
    gguf::Writer w;
    w.add("general.architecture", gguf::Value::string("test"));
    ASSERT_TRUE(w.add_tensor("grid", 16, {256}, std::vector<std::byte>(66)).ok());  // IQ2_XXS
    ASSERT_TRUE(w.add_tensor("plain", 0, {2}, std::vector<std::byte>(8)).ok());
    const auto path = dir_ / "iq.gguf";
    ASSERT_TRUE(w.write_file(path).ok());
    const auto out = dir_ / "iq.safetensors";
    auto r = run(quoted(path) + " --out " + quoted(out));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.out.find("not written: grid: dequantization of IQ2_XXS is not supported"), std::string::npos) << r.out;
    auto st = gguf::safetensors::open(out);
    ASSERT_TRUE(st);
    ASSERT_EQ(st->tensors.size(), 1u);
    EXPECT_EQ(st->tensors[0].name, "plain");
}
