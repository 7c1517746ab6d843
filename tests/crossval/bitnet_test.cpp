// Against the real bitnet.cpp (ctest label `bitnet`), built from the vendored source by
// scripts/fetch-bitnet (which scripts/test runs first; here it only prints the cached build):
//   - the I2_S tiny model passes crossval on bitnet.cpp with every stage (header, load, logits);
//   - our I2_S bytes equal bitnet.cpp's `llama-quantize IN OUT I2_S 1`;
//   - our I2_S dequantization equals, bit for bit, what bitnet.cpp's I2_S kernel computes;
//   - a type-36 file is a predicted rejection for the pinned llama.cpp (XFAIL only when allowed).
// Without the bitnet.cpp build every test here FAILS: a skipped reference is not a pass.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <bit>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "gguf/data/quantize.hpp"
#include "gguf/reader.hpp"
#include "reference/reference.hpp"
#include "support/run.hpp"
#include "support/temp_dir.hpp"

#ifndef GGUF_CROSSVAL_BIN
#error "GGUF_CROSSVAL_BIN must name the gguf-crossval binary"
#endif
#ifndef GGUF_CROSSVAL_SOURCE_DIR
#error "GGUF_CROSSVAL_SOURCE_DIR must name the source tree"
#endif

namespace fs = std::filesystem;
using testing_support::quoted;
using testing_support::run_command;
using testing_support::slurp;

namespace {

const std::string kBin = GGUF_CROSSVAL_BIN;

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
}

// The bitnet.cpp build directory, from scripts/fetch-bitnet (cached: prints it at once).
const std::string& bitnet_dir() {
    static const std::string dir = [] {
        const auto r = run_command(quoted(fs::path(GGUF_CROSSVAL_SOURCE_DIR) / "scripts" / "fetch-bitnet"));
        return r.exit_code == 0 ? trim(r.out) : std::string("unavailable: " + r.err);
    }();
    return dir;
}

#define REQUIRE_BITNET()                                                                               \
    ASSERT_TRUE(fs::exists(fs::path(bitnet_dir()) / "3rdparty" / "llama.cpp" / "include" / "llama.h")) \
        << "no bitnet.cpp build (" << bitnet_dir() << "): run scripts/fetch-bitnet"

class BitnetCpp : public testing_support::TempDirTest {
protected:
    fs::path gen(const std::string& type) {
        const auto path = dir_ / ("bitnet-" + type + ".gguf");
        const auto r = run_command(quoted(fs::path(kBin)) + " gen-model --arch bitnet --type " + type + " --output " +
                                   quoted(path));
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return path;
    }

    nlohmann::json crossval(const fs::path& model, const std::string& env, const std::string& flags, int expect_exit) {
        const auto report = dir_ / (model.stem().string() + ".report.json");
        const auto r = run_command(env + " " + quoted(fs::path(kBin)) + " crossval --model " + quoted(model) +
                                   " --report " + quoted(report) + " " + flags);
        EXPECT_EQ(r.exit_code, expect_exit) << r.out << r.err;
        auto j = nlohmann::json::parse(slurp(report), nullptr, false);
        EXPECT_TRUE(j.is_object()) << "no report at " << report;
        return j;
    }
};

const nlohmann::json* stage(const nlohmann::json& report, const std::string& name) {
    for (const auto& s : report["stages"]) {
        if (s.value("name", "") == name) return &s;
    }
    return nullptr;
}

}  // namespace

TEST_F(BitnetCpp, I2sTinyModelPassesHeaderLoadAndLogits) {
    REQUIRE_BITNET();
    const auto model = gen("i2_s");
    const auto report = crossval(model, "", "--cpp-dir " + quoted(fs::path(bitnet_dir())) + " --logits", 0);
    EXPECT_EQ(report["verdict"], "pass") << report.dump(2).substr(0, 4000);
    EXPECT_FALSE(report["xfail"].get<bool>());
    for (const char* name : {"reader", "cpp_header", "cpp_full", "logits"}) {
        const auto* s = stage(report, name);
        ASSERT_NE(s, nullptr) << name;
        EXPECT_TRUE((*s)["ok"].get<bool>()) << name << ": " << s->dump(2).substr(0, 2000);
    }
    EXPECT_TRUE(report["comparison"]["equal"].get<bool>()) << report["comparison"].dump(2);
    EXPECT_EQ(report["reference"]["name"], "bitnet.cpp");
    const std::string version = report["reference"]["version"];
    EXPECT_NE(version.find("16da220ae2b510caff437d403288882687f44ae5"), std::string::npos) << version;
    EXPECT_NE(version.find("406a5036f9a8aaee9ec5e96e652f61691340fe95"), std::string::npos) << version;
}

TEST_F(BitnetCpp, BitnetCppDirAndCrossvalCppDirEnvironmentSelectIt) {
    REQUIRE_BITNET();
    const auto model = gen("i2_s");
    for (const std::string var : {"BITNET_CPP_DIR", "CROSSVAL_CPP_DIR"}) {
        const auto report = crossval(
            model, "env -u CROSSVAL_CPP_DIR -u BITNET_CPP_DIR " + var + "=" + quoted(fs::path(bitnet_dir())), "", 0);
        EXPECT_EQ(report["verdict"], "pass") << var;
        EXPECT_EQ(report["reference"]["name"], "bitnet.cpp") << var;
    }
}

TEST_F(BitnetCpp, OurI2sBytesEqualItsLlamaQuantize) {
    REQUIRE_BITNET();
    const auto f16 = gen("f16");
    const auto ours = gen("i2_s");
    const auto theirs = dir_ / "theirs-i2_s.gguf";
    const auto quantize = fs::path(bitnet_dir()) / "build" / "bin" / "llama-quantize";
    const auto r = run_command(quoted(quantize) + " " + quoted(f16) + " " + quoted(theirs) + " I2_S 1");
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const std::string a = slurp(ours), b = slurp(theirs);
    ASSERT_EQ(a.size(), b.size());
    std::size_t first = a.size();
    for (std::size_t i = 0; i < a.size() && first == a.size(); ++i) {
        if (a[i] != b[i]) first = i;
    }
    EXPECT_EQ(first, a.size()) << "first differing byte at offset " << first;
}

TEST_F(BitnetCpp, OurI2sDequantizationEqualsItsKernelBitForBit) {
    REQUIRE_BITNET();
    const auto model = gen("i2_s");
    const auto located = gguf::reference::locate(fs::path(bitnet_dir()));
    ASSERT_TRUE(located.ref) << located.error;
    auto file = gguf::open(model);
    ASSERT_TRUE(file) << file.error().message;
    int checked = 0;
    for (const auto& t : file->tensors()) {
        if (t.type != gguf::kTypeI2S) continue;
        const auto out = gguf::reference::run_probe(
            *located.ref, {"kernel_dequant", "--tensor", std::string(t.name), "--", model.string()}, {});
        ASSERT_TRUE(out.ok) << out.message << "\n" << out.log_excerpt;
        EXPECT_FALSE(out.payload["to_float"].get<bool>()) << "bitnet.cpp's I2_S has no to_float";
        std::uint64_t n = 1;
        for (auto d : t.dims()) n *= d;
        const auto ours = gguf::dequantize(gguf::GgmlType::I2_S, t.data, n);
        ASSERT_TRUE(ours) << ours.error().message;
        const auto& bits = out.payload["values_bits"];
        ASSERT_EQ(bits.size(), ours->size()) << t.name;
        std::size_t differing = 0;
        for (std::size_t i = 0; i < ours->size(); ++i) {
            if (std::bit_cast<std::uint32_t>((*ours)[i]) != bits[i].get<std::uint32_t>()) ++differing;
        }
        EXPECT_EQ(differing, 0u) << t.name;
        ++checked;
    }
    EXPECT_EQ(checked, 7);
}

TEST_F(BitnetCpp, Type36IsAPredictedRejectionForThePinnedLlamaCpp) {
    REQUIRE_BITNET();
    const auto model = gen("i2_s");
    const std::string pinned = "env -u CROSSVAL_CPP_DIR -u BITNET_CPP_DIR";
    const auto allowed = crossval(model, pinned + " CROSSVAL_ALLOW_CPP_FAIL=1", "", 0);
    EXPECT_EQ(allowed["verdict"], "pass_xfail") << allowed.dump(2).substr(0, 3000);
    EXPECT_EQ(allowed["reference"]["name"], "llama.cpp");
    const auto* header = stage(allowed, "cpp_header");
    ASSERT_NE(header, nullptr);
    EXPECT_FALSE((*header)["ok"].get<bool>());
    EXPECT_TRUE((*header)["xfail"].get<bool>());
    EXPECT_EQ((*header)["failure_class"], "unknown_tensor_type");
    // Not allowed: a reference failure (4), never a disagreement (3): our warning predicted it.
    const auto strict = crossval(model, pinned + " CROSSVAL_ALLOW_CPP_FAIL=0", "", 4);
    EXPECT_EQ(strict["verdict"], "reference_failed");
}

// The same ternary weights three ways (docs/i2_s.md, "Three engines, one set of ternary weights"):
// bitnet.cpp on I2_S, llama.cpp on TQ2_0, llama.cpp on F16. The files hold exactly the same numbers;
// the logits differ by what each engine does to the activations (bitnet.cpp's I2_S kernel: int8 per
// token with scale 127/max; llama.cpp's TQ2_0: Q8_K, int8 per 256 values; F16: f16), and bitnet.cpp
// keeps an f16 KV cache. The thresholds below hold with a margin of about 2x over what was measured.
TEST_F(BitnetCpp, SameTernaryWeightsThreeWaysAgreeWithinActivationQuantization) {
    REQUIRE_BITNET();
    std::map<std::string, fs::path> files;
    for (const std::string type : {"f16", "i2_s", "tq2_0"}) {
        files[type] = dir_ / ("ternary-" + type + ".gguf");
        const auto r = run_command(quoted(fs::path(kBin)) + " gen-model --arch bitnet --ternary --type " + type +
                                   " --output " + quoted(files[type]));
        ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    // Same numbers in all three files.
    auto f16 = gguf::open(files["f16"]);
    auto i2s = gguf::open(files["i2_s"]);
    auto tq2 = gguf::open(files["tq2_0"]);
    ASSERT_TRUE(f16 && i2s && tq2);
    for (const auto& t : f16->tensors()) {
        std::uint64_t n = 1;
        for (auto d : t.dims()) n *= d;
        const auto* a = i2s->find_tensor(t.name);
        const auto* b = tq2->find_tensor(t.name);
        ASSERT_TRUE(a && b) << t.name;
        const auto x = gguf::dequantize(static_cast<gguf::GgmlType>(t.type), t.data, n);
        const auto y = gguf::dequantize(static_cast<gguf::GgmlType>(a->type), a->data, n);
        const auto z = gguf::dequantize(static_cast<gguf::GgmlType>(b->type), b->data, n);
        ASSERT_TRUE(x && y && z) << t.name;
        EXPECT_EQ(*x, *y) << t.name;
        EXPECT_EQ(*x, *z) << t.name;
    }
    const auto bitnet_logits = dir_ / "bitnet-i2_s.logits.json";
    crossval(files["i2_s"], "",
             "--cpp-dir " + quoted(fs::path(bitnet_dir())) + " --logits --logits-out " + quoted(bitnet_logits), 0);
    const std::string thresholds = " --max-abs 1.5 --min-cosine 0.9995 --max-kl 1e-3 --min-top5 5";
    const std::string pinned = "env -u CROSSVAL_CPP_DIR -u BITNET_CPP_DIR";
    const auto tq2_vs_bitnet =
        crossval(files["tq2_0"], pinned, "--logits --against " + quoted(bitnet_logits) + thresholds, 0);
    EXPECT_EQ(tq2_vs_bitnet["verdict"], "pass") << tq2_vs_bitnet["stages"].dump(2).substr(0, 3000);
    // The baseline: llama.cpp's own F16 and TQ2_0 on these weights differ by as much.
    const auto tq2_logits = dir_ / "llama-tq2_0.logits.json";
    crossval(files["tq2_0"], pinned, "--logits --logits-out " + quoted(tq2_logits), 0);
    const auto f16_vs_tq2 = crossval(files["f16"], pinned, "--logits --against " + quoted(tq2_logits) + thresholds, 0);
    EXPECT_EQ(f16_vs_tq2["verdict"], "pass") << f16_vs_tq2["stages"].dump(2).substr(0, 3000);
    // The third engine is our own: the built-in forward pass on the I2_S file (exact f32
    // activations) against bitnet.cpp on it, and against llama.cpp on TQ2_0, within the same margins.
    const auto bitnet_vs_builtin =
        crossval(files["i2_s"], "",
                 "--cpp-dir " + quoted(fs::path(bitnet_dir())) + " --logits --against builtin" + thresholds, 0);
    EXPECT_EQ(bitnet_vs_builtin["verdict"], "pass") << bitnet_vs_builtin["stages"].dump(2).substr(0, 3000);
    const auto* leg = stage(bitnet_vs_builtin, "logits");
    ASSERT_NE(leg, nullptr);
    EXPECT_EQ((*leg)["details"]["against"]["kind"], "builtin");
    const auto tq2_vs_builtin = crossval(files["tq2_0"], pinned, "--logits --against builtin" + thresholds, 0);
    EXPECT_EQ(tq2_vs_builtin["verdict"], "pass") << tq2_vs_builtin["stages"].dump(2).substr(0, 3000);
}

// The trace mode on bitnet.cpp: its decode of the I2_S model captured node by node, and compared with
// itself (a second run of the same build) tensor for tensor without a difference.
TEST_F(BitnetCpp, TraceModeCapturesItsDecodeAndAgreesWithItself) {
    REQUIRE_BITNET();
    const auto model = gen("i2_s");
    const std::string cpp = "--cpp-dir " + quoted(fs::path(bitnet_dir()));
    const auto report = crossval(model, "", cpp + " --trace --against " + quoted(fs::path(bitnet_dir())), 0);
    EXPECT_EQ(report["verdict"], "pass") << report.dump(2).substr(0, 4000);
    const auto* trace = stage(report, "trace");
    ASSERT_NE(trace, nullptr);
    EXPECT_TRUE((*trace)["ok"].get<bool>()) << trace->dump(2).substr(0, 3000);
    EXPECT_GE((*trace)["details"]["n_compared"].get<int>(), 20) << "the graph's named nodes were compared";
    EXPECT_EQ((*trace)["details"]["n_diverging"], 0);
}

// The dequant mode on bitnet.cpp: ggml's to_float of its fork against our dequantizer, bit for bit,
// on a Q8_0 model; I2_S, which has no to_float there, is named as not compared, never passed.
TEST_F(BitnetCpp, DequantModeAgreesBitForBitAndNamesI2sAsNotCompared) {
    REQUIRE_BITNET();
    const std::string cpp = "--cpp-dir " + quoted(fs::path(bitnet_dir()));
    const auto q8 = crossval(gen("q8_0"), "", cpp + " --dequant", 0);
    EXPECT_EQ(q8["verdict"], "pass") << q8.dump(2).substr(0, 4000);
    const auto* d = stage(q8, "dequant");
    ASSERT_NE(d, nullptr);
    EXPECT_TRUE((*d)["ok"].get<bool>()) << d->dump(2).substr(0, 3000);
    const auto i2s = crossval(gen("i2_s"), "", cpp + " --dequant", 4);
    const auto* di = stage(i2s, "dequant");
    ASSERT_NE(di, nullptr);
    EXPECT_FALSE((*di)["ok"].get<bool>()) << di->dump(2).substr(0, 3000);
    EXPECT_EQ((*di)["failure_class"], "dequant_unsupported") << di->dump(2).substr(0, 3000);
}

// bitnet.cpp's ggml aborts through a handler that forks a debugger found on PATH (gdb, then lldb) to
// print a backtrace; GGML_NO_BACKTRACE does not exist in that ggml. The probe's PATH finds no program:
// a stand-in `gdb` and `lldb` first on our PATH that leave a mark when run must never run, while the
// crash is still reported as one.
TEST_F(BitnetCpp, ACrashRunsNoDebuggerFromPath) {
    REQUIRE_BITNET();
    const auto corpus = dir_ / "corpus";
    const auto gen = run_command(quoted(fs::path(kBin)) + " gen-corpus --out " + quoted(corpus));
    ASSERT_EQ(gen.exit_code, 0) << gen.err;
    const auto model = corpus / "valid" / "array_of_arrays.gguf";  // bitnet.cpp's gguf reader aborts on it
    ASSERT_TRUE(fs::exists(model));
    const auto bin = dir_ / "bin";
    fs::create_directories(bin);
    const auto mark = dir_ / "debugger-ran";
    for (const char* name : {"gdb", "lldb"}) {
        std::ofstream(bin / name) << "#!/bin/sh\necho \"$0\" >> " << quoted(mark) << "\n";
        fs::permissions(bin / name, fs::perms::owner_all);
    }
    const auto report = crossval(model,
                                 "PATH=" + quoted(fs::path(bin.string() + ":" + std::getenv("PATH"))) +
                                     " CROSSVAL_ALLOW_CPP_FAIL=0 BITNET_CPP_DIR=" + quoted(fs::path(bitnet_dir())),
                                 "--cpp-dir " + quoted(fs::path(bitnet_dir())), 4);
    EXPECT_EQ(report["reference"]["name"], "bitnet.cpp");
    const auto* header = stage(report, "cpp_header");
    ASSERT_NE(header, nullptr);
    EXPECT_EQ((*header)["failure_class"], "abort_or_signal") << header->dump(2);
    EXPECT_FALSE(fs::exists(mark)) << "the probe ran " << slurp(mark);
}
