// Against the real reference (ctest label `reference`): our dequantizers are bit-identical to ggml's
// to_float (the probe's `dequant` mode) on every tensor of every tiny model and of llama.cpp-quantized
// copies in each type it can write; a flipped scale byte is found in exactly its block; types we do
// not dequantize are named, never passed over. Without the reference every test here FAILS.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <fstream>
#include <map>
#include <set>

#include "crossval/dequant_stage.hpp"
#include "fixtures/tiny_model.hpp"
#include "gguf/data/quantize.hpp"
#include "gguf/reader.hpp"
#include "gguf/writer.hpp"
#include "reference/reference_env.hpp"
#include "support/run.hpp"

using gguf::fixtures::TinyArch;
using gguf::fixtures::TinyModelSpec;
using gguf::fixtures::TinyType;

namespace {

const gguf::reference::RunOptions kRun{std::chrono::milliseconds(120000)};

std::filesystem::path write_tiny(TinyModelSpec spec, const std::filesystem::path& dir) {
    auto w = gguf::fixtures::tiny_model(spec);
    EXPECT_TRUE(w) << w.error().message;
    const auto path =
        dir / fmt::format("{}-{}.gguf", gguf::fixtures::arch_name(spec.arch), gguf::fixtures::type_name(spec.type));
    const auto st = w->write_file(path);
    EXPECT_TRUE(st) << st.error().message;
    return path;
}

// llama_model_quantize (pure, one thread) through the probe; false when the reference refuses the ftype.
bool quantize(const std::filesystem::path& in, const std::filesystem::path& out, int ftype, std::string& why) {
    const auto o = gguf::reference::run_probe(
        testing_support::reference(),
        {"quantize", "--output", out.string(), "--ftype", std::to_string(ftype), "--", in.string()}, kRun);
    why = o.message;
    return o.ok;
}

// Type name -> tensor count of a file.
std::map<std::string, int> types_in(const std::filesystem::path& path) {
    std::map<std::string, int> out;
    auto f = gguf::open(path);
    EXPECT_TRUE(f) << f.error().message;
    if (f) {
        for (const auto& t : f->tensors()) ++out[std::string(t.traits.name)];
    }
    return out;
}

std::string summary(const gguf::crossval::Stage& s) {
    return fmt::format("[{}] {}\n{}", gguf::crossval::failure_name(s.failure), s.message, s.log_excerpt);
}

}  // namespace

TEST(DequantReference, EveryTinyModelIsBitIdenticalWithGgml) {
    ASSERT_REFERENCE();
    const auto dir = testing_support::test_dir();
    const std::vector<TinyModelSpec> specs = {
        {TinyArch::llama, TinyType::f32},    {TinyArch::llama, TinyType::f16},   {TinyArch::llama, TinyType::q8_0},
        {TinyArch::bitnet, TinyType::f16},   {TinyArch::bitnet, TinyType::q8_0}, {TinyArch::bitnet, TinyType::tq1_0},
        {TinyArch::bitnet, TinyType::tq2_0},
    };
    for (const auto& spec : specs) {
        const auto path = write_tiny(spec, dir);
        const auto s = gguf::crossval::dequant_stage(testing_support::reference(), path, kRun);
        EXPECT_TRUE(s.ok) << path << ": " << summary(s);
        const auto n = gguf::open(path)->tensors().size();
        EXPECT_EQ(s.details.value("identical", 0u), n) << path;
    }
}

// Each llama_ftype the reference can write from the bitnet f16 model (rows of 256, as the k-quants
// need), quantized pure: whatever types it wrote, every tensor of a type we dequantize is
// bit-identical, and every other tensor is named as unchecked.
TEST(DequantReference, LlamaQuantizedCopiesAreBitIdenticalInEverySupportedType) {
    ASSERT_REFERENCE();
    const auto dir = testing_support::test_dir();
    const auto source = write_tiny({TinyArch::bitnet, TinyType::f16}, dir);
    const std::vector<std::pair<int, std::string>> ftypes = {
        {1, "F16"},    {32, "BF16"},  {2, "Q4_0"},   {3, "Q4_1"},  {8, "Q5_0"},  {9, "Q5_1"},    {7, "Q8_0"},
        {10, "Q2_K"},  {12, "Q3_K"},  {14, "Q4_K"},  {16, "Q5_K"}, {18, "Q6_K"}, {25, "IQ4_NL"}, {30, "IQ4_XS"},
        {36, "TQ1_0"}, {37, "TQ2_0"}, {38, "MXFP4"}, {40, "Q1_0"}, {41, "Q2_0"},
    };  // 39 (NVFP4) is refused by the pinned llama_model_quantize ("invalid output file type"): see below
    std::set<std::string> compared;
    for (const auto& [ftype, expect_type] : ftypes) {
        const auto out = dir / fmt::format("bitnet-ftype{}.gguf", ftype);
        std::string why;
        ASSERT_TRUE(quantize(source, out, ftype, why)) << "ftype " << ftype << ": " << why;
        const auto types = types_in(out);
        EXPECT_TRUE(types.contains(expect_type)) << "ftype " << ftype << " wrote no " << expect_type << " tensor";
        const auto s = gguf::crossval::dequant_stage(testing_support::reference(), out, kRun);
        EXPECT_TRUE(s.ok) << "ftype " << ftype << ": " << summary(s);
        for (const auto& t : s.details["tensors"]) {
            EXPECT_EQ(t["status"], "identical") << "ftype " << ftype << " " << t.dump();
            compared.insert(t["type"].get<std::string>());
        }
    }
    for (const auto& [ftype, type] : ftypes) EXPECT_TRUE(compared.contains(type)) << type << " was never compared";
}

// Arbitrary bytes in every type we dequantize, NVFP4 included (which llama_model_quantize does not
// write): all scale bit patterns occur, NaN and infinite f16 scales too, so NaN payloads are compared.
TEST(DequantReference, ArbitraryBlocksOfEveryTypeAreBitIdentical) {
    ASSERT_REFERENCE();
    const auto dir = testing_support::test_dir();
    gguf::Writer w;
    w.add("general.architecture", gguf::Value::string("test"));
    std::uint64_t h = 0x243F6A8885A308D3ull;
    std::set<std::string> expected;
    for (const auto& t : gguf::ggml_type_table()) {
        if (gguf::dequant_support(t.id) != gguf::DequantSupport::supported) continue;
        // I2_S (id 36) is bitnet.cpp's: the pinned ggml lists the id as removed and has no to_float for it.
        // bitnet_tests compare our I2_S with bitnet.cpp's own kernels instead.
        if (t.id == 36) continue;
        const std::uint64_t ne0 = 256 * 2, rows = 8;  // a multiple of every block size
        std::vector<std::byte> data(ne0 / t.block_size * t.bytes_per_block * rows);
        for (auto& b : data) {
            h = h * 6364136223846793005ull + 1442695040888963407ull;
            b = static_cast<std::byte>(h >> 56);
        }
        ASSERT_TRUE(w.add_tensor(fmt::format("random.{}", t.name), t.id, {ne0, rows}, std::move(data)).ok()) << t.name;
        expected.insert(std::string(t.name));
    }
    const auto path = dir / "random.gguf";
    ASSERT_TRUE(w.write_file(path).ok());
    const auto s = gguf::crossval::dequant_stage(testing_support::reference(), path, kRun);
    std::set<std::string> identical;
    for (const auto& t : s.details["tensors"]) {
        const std::string type = t["type"];
        if (type == "Q8_1" || type == "Q8_K") {  // ggml has no to_float for them
            EXPECT_EQ(t["status"], "no_reference_to_float") << t.dump();
            continue;
        }
        EXPECT_EQ(t["status"], "identical") << t.dump();
        if (t["status"] == "identical") identical.insert(type);
    }
    EXPECT_EQ(gguf::crossval::failure_name(s.failure), "dequant_unsupported")
        << summary(s);  // only because of Q8_1 / Q8_K
    EXPECT_TRUE(identical.contains("NVFP4"));
    EXPECT_EQ(identical.size() + 2, expected.size());
}

// IQ3_S needs no importance matrix, so the reference writes it; its values come from ggml's grid,
// which we do not have: the stage must name those tensors and not pass.
TEST(DequantReference, GridTypesAreNamedNotPassed) {
    ASSERT_REFERENCE();
    const auto dir = testing_support::test_dir();
    const auto source = write_tiny({TinyArch::bitnet, TinyType::f16}, dir);
    const auto out = dir / "bitnet-iq3_s.gguf";
    std::string why;
    ASSERT_TRUE(quantize(source, out, 26, why)) << why;
    ASSERT_TRUE(types_in(out).contains("IQ3_S"));
    const auto s = gguf::crossval::dequant_stage(testing_support::reference(), out, kRun);
    EXPECT_FALSE(s.ok);
    EXPECT_EQ(gguf::crossval::failure_name(s.failure), "dequant_unsupported") << summary(s);
    EXPECT_NE(s.message.find("IQ3_S"), std::string::npos) << s.message;
    int unsupported = 0;
    for (const auto& t : s.details["tensors"]) {
        if (t["type"] == "IQ3_S") {
            EXPECT_EQ(t["status"], "unsupported");
            ++unsupported;
        } else {
            EXPECT_EQ(t["status"], "identical") << t.dump();
        }
    }
    EXPECT_GT(unsupported, 0);
}

// One byte of one Q8_0 block scale flipped in our copy: exactly that block differs, at the first
// element whose quant is not zero, and the count is that block's number of non-zero quants.
TEST(DequantReference, AFlippedScaleByteIsReportedAtItsBlock) {
    ASSERT_REFERENCE();
    const auto dir = testing_support::test_dir();
    const auto original = write_tiny({TinyArch::bitnet, TinyType::q8_0}, dir);
    auto file = gguf::open(original);
    ASSERT_TRUE(file);
    const auto* t = file->find_tensor("blk.0.attn_q.weight");
    ASSERT_NE(t, nullptr);
    ASSERT_EQ(t->type, 8u);
    const std::uint64_t row = 5, block = 3;  // 256-wide rows: 8 blocks of 34 bytes each
    const std::uint64_t block_offset = (row * (t->ne[0] / 32) + block) * 34;
    const std::uint64_t at = file->data_offset() + t->offset + block_offset;
    std::vector<std::uint8_t> qs(32);
    for (int j = 0; j < 32; ++j) qs[j] = std::to_integer<std::uint8_t>(t->data[block_offset + 2 + j]);
    int first_nonzero = -1, nonzero = 0;
    for (int j = 0; j < 32; ++j) {
        if (qs[j] == 0) continue;
        ++nonzero;
        if (first_nonzero < 0) first_nonzero = j;
    }
    ASSERT_GT(nonzero, 0);

    const auto copy = dir / "flipped.gguf";
    std::filesystem::copy_file(original, copy);
    {
        std::fstream f(copy, std::ios::in | std::ios::out | std::ios::binary);
        f.seekg(static_cast<std::streamoff>(at));
        char lo = 0;
        f.read(&lo, 1);
        lo = static_cast<char>(lo ^ 0x01);  // lowest mantissa bit of the f16 d: every non-zero quant changes
        f.seekp(static_cast<std::streamoff>(at));
        f.write(&lo, 1);
    }
    const auto s = gguf::crossval::dequant_stage(testing_support::reference(), original, copy, kRun);
    EXPECT_FALSE(s.ok);
    EXPECT_EQ(gguf::crossval::failure_name(s.failure), "dequant_differs");
    int differing = 0;
    for (const auto& j : s.details["tensors"]) {
        if (j["status"] != "differs") continue;
        ++differing;
        EXPECT_EQ(j["name"], "blk.0.attn_q.weight");
        EXPECT_EQ(j["differing"], nonzero);
        const auto& d = j["first_difference"];
        EXPECT_EQ(d["row"], row);
        EXPECT_EQ(d["block"], block);
        EXPECT_EQ(d["element"], first_nonzero);
        EXPECT_NE(d["ours"]["bits"], d["reference"]["bits"]);
    }
    EXPECT_EQ(differing, 1) << s.details.dump();
    EXPECT_NE(s.message.find(fmt::format("row {} block {} element {}", row, block, first_nonzero)), std::string::npos)
        << s.message;
}

// The stage as a user runs it: crossval --dequant on a tiny model passes (exit 0) with the stage in
// the report; on a file with a grid type the stage names it and, without CROSSVAL_ALLOW_CPP_FAIL,
// the run exits 4 (a stage that could not check everything is not a pass).
TEST(DequantReference, CrossvalDequantFromTheCommandLine) {
    ASSERT_REFERENCE();
    const auto dir = testing_support::test_dir();
    const auto model = write_tiny({TinyArch::llama, TinyType::q8_0}, dir);
    const auto report = dir / "report.json";
    const std::string bin = GGUF_CROSSVAL_BIN;
    auto r =
        testing_support::run_command("env -u CROSSVAL_ALLOW_CPP_FAIL " + bin + " crossval --dequant --model " +
                                     testing_support::quoted(model) + " --report " + testing_support::quoted(report));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    const auto j = nlohmann::json::parse(testing_support::slurp(report));
    bool found = false;
    for (const auto& s : j["stages"]) {
        if (s["name"] != "dequant") continue;
        found = true;
        EXPECT_EQ(s["ok"], true) << s.dump();
    }
    EXPECT_TRUE(found);

    const auto source = write_tiny({TinyArch::bitnet, TinyType::f16}, dir);
    const auto iq = dir / "iq3_s.gguf";
    std::string why;
    ASSERT_TRUE(quantize(source, iq, 26, why)) << why;
    r = testing_support::run_command("env -u CROSSVAL_ALLOW_CPP_FAIL " + bin + " crossval --dequant --model " +
                                     testing_support::quoted(iq) + " --report " + testing_support::quoted(report));
    EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
    EXPECT_NE(r.out.find("IQ3_S"), std::string::npos) << r.out;
}
