// The reference layer against the REAL reference (the pinned llama.cpp, installed by
// scripts/fetch-reference): locate, the probe's modes, description_from_header, failure classes.
// These tests fail, never skip, when the reference is missing.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <bit>
#include <cstring>
#include <fstream>
#include <limits>

#include "describe/description.hpp"
#include "fixtures/mini_fixture.hpp"
#include "gguf/reader.hpp"
#include "gguf/types.hpp"
#include "reference/reference.hpp"
#include "reference_env.hpp"
#include "tiny_llama.hpp"

namespace gguf::reference {
namespace {

using testing_support::reference;
using testing_support::test_dir;
namespace fs = std::filesystem;

fs::path write(const gguf::Writer& w, const fs::path& path) {
    const auto st = w.write_file(path);
    if (!st) ADD_FAILURE() << "writing " << path << ": " << st.error().message;
    return path;
}

describe::Description ours(const fs::path& path) {
    auto f = gguf::open(path);
    if (!f) {
        ADD_FAILURE() << "our reader rejected " << path << ": " << f.error().message;
        return {};
    }
    return describe::describe(*f);
}

// Field-by-field equality of two Descriptions, each difference reported on its own.
void expect_same(const describe::Description& a, const describe::Description& b) {
    EXPECT_EQ(a.version, b.version);
    EXPECT_EQ(a.n_kv, b.n_kv);
    EXPECT_EQ(a.n_tensors, b.n_tensors);
    EXPECT_EQ(a.alignment, b.alignment);
    EXPECT_EQ(a.data_offset, b.data_offset);
    EXPECT_EQ(a.file_size, b.file_size);
    ASSERT_EQ(a.kv.size(), b.kv.size());
    for (std::size_t i = 0; i < a.kv.size(); ++i) {
        SCOPED_TRACE("kv " + std::to_string(i) + " " + a.kv[i].key);
        EXPECT_EQ(a.kv[i].key, b.kv[i].key);
        EXPECT_EQ(a.kv[i].type, b.kv[i].type);
        EXPECT_EQ(a.kv[i].value, b.kv[i].value) << a.kv[i].value.dump() << " vs " << b.kv[i].value.dump();
        EXPECT_EQ(a.kv[i].digest, b.kv[i].digest);
    }
    ASSERT_EQ(a.tensors.size(), b.tensors.size());
    for (std::size_t i = 0; i < a.tensors.size(); ++i) {
        SCOPED_TRACE("tensor " + std::to_string(i) + " " + a.tensors[i].name);
        EXPECT_EQ(a.tensors[i].name, b.tensors[i].name);
        EXPECT_EQ(a.tensors[i].type, b.tensors[i].type);
        EXPECT_EQ(a.tensors[i].dims, b.tensors[i].dims);
        EXPECT_EQ(a.tensors[i].offset, b.tensors[i].offset);
        EXPECT_EQ(a.tensors[i].size, b.tensors[i].size);
    }
}

// The reference's header as a Description (fails the test when it is not one).
describe::Description theirs(const fs::path& path) {
    const auto o = run_header(reference(), path, {});
    EXPECT_TRUE(o.ok) << failure_class_name(o.failure) << ": " << o.message << "\n" << o.log_excerpt;
    auto d = description_from_header(o.payload);
    if (!d) {
        ADD_FAILURE() << d.error().message;
        return {};
    }
    return std::move(d).value();
}

const nlohmann::json* find_kv(const nlohmann::json& payload, std::string_view key_hex) {
    for (const auto& kv : payload["kv"]) {
        if (kv["key_hex"] == key_hex) return &kv;
    }
    return nullptr;
}

std::vector<std::byte> zeros(std::size_t n) {
    return std::vector<std::byte>(n);
}

// ---------------------------------------------------------------------------------------------

TEST(Locate, FindsThePinnedReferenceAndBuildsItsProbe) {
    ASSERT_REFERENCE();
    const auto& ref = reference();
    EXPECT_EQ(ref.name, "llama.cpp");
    EXPECT_TRUE(fs::is_regular_file(ref.probe)) << ref.probe;
    EXPECT_TRUE(fs::is_directory(ref.lib_dir)) << ref.lib_dir;
    EXPECT_FALSE(ref.version.empty());
}

TEST(Locate, AnExplicitCppDirIsUsed) {
    ASSERT_REFERENCE();  // the pinned cache must exist for this route to be tested
    const auto located = locate(pinned_reference_dir());
    ASSERT_TRUE(located.ref.has_value()) << located.error;
    EXPECT_EQ(located.ref->origin, "--cpp-dir");
    EXPECT_EQ(located.ref->dir, pinned_reference_dir());
    EXPECT_NE(located.ref->version.find(kPinnedVersion), std::string::npos) << located.ref->version;
    const auto o = run_header(*located.ref, write(fixtures::mini_fixture(3), test_dir() / "mini.gguf"), {});
    EXPECT_TRUE(o.ok) << o.message;
}

// A llama.cpp source + CMake build tree (headers in include/ and ggml/include/, libraries in build/bin
// and build/ggml/src, unversioned names), made of links into the pinned cache.
TEST(Locate, AcceptsALlamaCppSourceAndBuildTree) {
    ASSERT_REFERENCE();
    const auto pinned = pinned_reference_dir();
    // A fixed path, so that the probe built for it is reused by later runs.
    const auto tree = fs::temp_directory_path() / "gguf_reference_llama_cpp_tree";
    fs::remove_all(tree);
    fs::create_directories(tree / "ggml");
    fs::create_directories(tree / "build" / "bin");
    fs::create_directories(tree / "build" / "ggml" / "src");
    fs::create_directory_symlink(pinned / "src" / "include", tree / "include");
    fs::create_directory_symlink(pinned / "src" / "ggml" / "include", tree / "ggml" / "include");
    for (const auto& e : fs::directory_iterator(pinned / "lib")) {
        const auto name = e.path().filename().string();
        if (name == "libggml-base.so") {
            fs::create_symlink(e.path(), tree / "build" / "ggml" / "src" / name);
        } else {
            fs::create_symlink(e.path(), tree / "build" / "bin" / name);
        }
    }
    fs::create_symlink(pinned / "lib" / "libllama.v0.4.0.so", tree / "build" / "bin" / "libllama.so");
    const auto located = locate(tree);
    ASSERT_TRUE(located.ref.has_value()) << located.error;
    EXPECT_EQ(located.ref->lib_dir, tree / "build" / "bin");
    EXPECT_EQ(located.ref->version, "unknown");  // not a git checkout, no REFERENCE file
    const auto path = write(fixtures::mini_fixture(3), test_dir() / "mini.gguf");
    const auto header = run_header(*located.ref, path, {});
    EXPECT_TRUE(header.ok) << header.message << "\n" << header.log_excerpt;
    const auto load = run_load(*located.ref, path, {});
    EXPECT_EQ(failure_class_name(load.failure), "unknown_architecture") << load.message << "\n" << load.log_excerpt;
}

TEST(Locate, ABrokenCppDirIsAnErrorNotAFallback) {
    const auto dir = test_dir() / "not-a-llama-build";
    fs::create_directories(dir);
    const auto located = locate(dir);
    EXPECT_FALSE(located.ref.has_value());
    EXPECT_NE(located.error.find(dir.string()), std::string::npos) << located.error;
    EXPECT_NE(located.error.find("--cpp-dir"), std::string::npos) << located.error;
}

// Headers that do not compile: locate reports the compiler's own message (the caller's
// reference_unavailable), and nothing is left installed as a probe.
TEST(Locate, AProbeThatDoesNotCompileIsReportedWithTheCompilerMessage) {
    const auto dir = test_dir() / "broken-build";
    fs::create_directories(dir / "include");
    fs::create_directories(dir / "ggml" / "include");
    fs::create_directories(dir / "lib");
    std::ofstream(dir / "include" / "llama.h") << "#error this llama.h is deliberately broken\n";
    std::ofstream(dir / "ggml" / "include" / "ggml.h") << "#pragma once\n";
    std::ofstream(dir / "lib" / "libllama.so") << "";
    std::ofstream(dir / "lib" / "libggml.so") << "";
    const auto located = locate(dir);
    ASSERT_FALSE(located.ref.has_value());
    EXPECT_NE(located.error.find("building the reference probe failed"), std::string::npos) << located.error;
    EXPECT_NE(located.error.find("this llama.h is deliberately broken"), std::string::npos) << located.error;
}

TEST(ProbeTypes, AgreesWithOurTypeTable) {
    ASSERT_REFERENCE();
    const auto o = run_probe(reference(), {"types"}, {});
    ASSERT_TRUE(o.ok) << o.message;
    EXPECT_EQ(o.payload["count"], gguf::kGgmlTypeCount);
    const auto& types = o.payload["types"];
    ASSERT_EQ(types.size(), gguf::ggml_type_table().size());
    auto lower = [](std::string s) {
        for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return s;
    };
    for (const auto& row : gguf::ggml_type_table()) {
        SCOPED_TRACE("type id " + std::to_string(row.id) + " " + std::string(row.name));
        const auto& t = types[row.id];
        EXPECT_EQ(t["id"], row.id);
        if (row.removed) {
            EXPECT_EQ(t["blck_size"], 0) << "ggml marks removed ids with block size 0";
            continue;
        }
        EXPECT_EQ(lower(t["name"].get<std::string>()), lower(std::string(row.name)));
        EXPECT_EQ(t["blck_size"], row.block_size);
        EXPECT_EQ(t["type_size"], row.bytes_per_block);
    }
}

TEST(ProbeHeader, MiniFixtureDescribesTheSameOnBothSides) {
    ASSERT_REFERENCE();
    const auto path = write(fixtures::mini_fixture(3), test_dir() / "mini.gguf");
    const auto t = theirs(path);
    expect_same(ours(path), t);
    // Independently of our reader: the mini fixture's documented shape.
    EXPECT_EQ(t.version, 3u);
    EXPECT_EQ(t.n_kv, 4u);
    EXPECT_EQ(t.n_tensors, 0u);
    EXPECT_EQ(t.data_offset, fixtures::kMiniFixtureSize);
    EXPECT_EQ(t.file_size, fixtures::kMiniFixtureSize);
    ASSERT_EQ(t.kv.size(), 4u);
    EXPECT_EQ(t.kv[0].key, "general.architecture");
    EXPECT_EQ(t.kv[0].value, "test");
}

// Every value type, extreme values, special floats, invalid UTF-8, long arrays, several tensor types.
gguf::Writer many_values_writer() {
    using gguf::Value;
    using gguf::ValueType;
    gguf::Writer w;
    w.add("general.architecture", Value::string("crossval-test"));
    w.add("t.u8", Value::u8(255));
    w.add("t.i8", Value::i8(-128));
    w.add("t.u16", Value::u16(65535));
    w.add("t.i16", Value::i16(-32768));
    w.add("t.u32", Value::u32(0xFFFFFFFFu));
    w.add("t.i32", Value::i32(std::numeric_limits<std::int32_t>::min()));
    w.add("t.u64", Value::u64(0xFFFFFFFFFFFFFFFFull));
    w.add("t.i64", Value::i64(std::numeric_limits<std::int64_t>::min()));
    w.add("t.f32.nan_payload", Value::scalar(ValueType::float32, 0x7FC00001u));
    w.add("t.f32.neg_zero", Value::f32(-0.0f));
    w.add("t.f32.subnormal", Value::scalar(ValueType::float32, 0x00000001u));
    w.add("t.f32.neg_inf", Value::f32(-std::numeric_limits<float>::infinity()));
    w.add("t.f32.third", Value::f32(1.0f / 3.0f));
    w.add("t.f64.nan", Value::scalar(ValueType::float64, 0x7FF8000000000001ull));
    w.add("t.f64.neg_zero", Value::f64(-0.0));
    w.add("t.f64.subnormal", Value::scalar(ValueType::float64, 1ull));
    w.add("t.f64.inf", Value::f64(std::numeric_limits<double>::infinity()));
    w.add("t.f64.tenth", Value::f64(0.1));
    w.add("t.bool.true", Value::boolean(true));
    w.add("t.bool.false", Value::boolean(false));
    w.add("t.str.empty", Value::string(""));
    w.add("t.str.utf8", Value::string("h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x98\x80"));
    w.add("t.str.invalid_utf8", Value::string("\xFF\xFE bad \x80 \xC0\xAF \\ backslash"));
    w.add("t.key.\xFF\xFE", Value::string("a key that is not UTF-8"));
    std::vector<Value> u8s, i16s, u64s, bools;
    for (int i = 0; i < 1000; ++i) u8s.push_back(Value::u8(static_cast<std::uint8_t>(i * 37)));
    for (int i = 0; i < 70; ++i) i16s.push_back(Value::i16(static_cast<std::int16_t>(-i * 461)));
    for (int i = 0; i < 65; ++i) u64s.push_back(Value::u64(0xFFFFFFFFFFFFFFFFull - static_cast<std::uint64_t>(i)));
    for (int i = 0; i < 3; ++i) bools.push_back(Value::boolean(i % 2 == 0));
    w.add("a.u8.long", Value::array(ValueType::uint8, u8s));
    w.add("a.i16.long", Value::array(ValueType::int16, i16s));
    w.add("a.u64.long", Value::array(ValueType::uint64, u64s));
    w.add("a.bool", Value::array(ValueType::boolean, bools));
    w.add("a.i8.empty", Value::array(ValueType::int8, {}));
    w.add("a.str.empty", Value::array(ValueType::string, {}));
    const float f32s[] = {0.0f,
                          -0.0f,
                          std::bit_cast<float>(0x7FC00001u),
                          std::bit_cast<float>(1u),
                          -std::numeric_limits<float>::infinity(),
                          1e-40f,
                          3.4028235e38f};
    w.add("a.f32", Value::f32s(f32s));
    w.add("a.f64", Value::array(ValueType::float64, {Value::f64(-0.0), Value::scalar(ValueType::float64, 1ull),
                                                     Value::scalar(ValueType::float64, 0xFFF8000000000000ull)}));
    std::vector<std::int32_t> i32s;
    for (int i = 0; i < 300; ++i) i32s.push_back(i * i * (i % 2 ? -1 : 1));
    w.add("a.i32.long", Value::i32s(i32s));
    std::vector<std::string> strs;
    for (int i = 0; i < 100; ++i) strs.push_back("token_" + std::to_string(i));
    strs[3] = "";
    strs[7] = "\xFF not utf-8";
    strs[9] = "\xE2\x96\x81the";
    w.add("a.str.long", Value::strings(strs));
    (void)w.add_tensor("f32.matrix", 0, {4, 3}, zeros(48));
    (void)w.add_tensor("f16.vector", 1, {8}, zeros(16));
    (void)w.add_tensor("q8_0.rows", 8, {32, 2}, zeros(68));
    (void)w.add_tensor("i32.vector", 26, {5}, zeros(20));
    (void)w.add_tensor("tq2_0.row", 35, {256}, zeros(66));
    (void)w.add_tensor("name \xFF with invalid utf-8", 0, {1}, zeros(4));
    return w;
}

TEST(ProbeHeader, ManyValueTypesDescribeTheSameOnBothSides) {
    ASSERT_REFERENCE();
    const auto path = write(many_values_writer(), test_dir() / "many.gguf");
    expect_same(ours(path), theirs(path));
}

// The probe's raw dump, checked against values worked out by hand (not through our renderer).
TEST(ProbeHeader, RawDumpKeepsBitsBytesAndWholeArrays) {
    ASSERT_REFERENCE();
    const auto path = write(many_values_writer(), test_dir() / "many.gguf");
    const auto o = run_header(reference(), path, {});
    ASSERT_TRUE(o.ok) << o.message;
    const auto& p = o.payload;
    auto kv = [&](const char* key_hex) -> const nlohmann::json& {
        const auto* j = find_kv(p, key_hex);
        if (j == nullptr) throw std::runtime_error(std::string("no key ") + key_hex);
        return *j;
    };
    // "t.f32.nan_payload" = 74 2e 66 33 32 2e 6e 61 6e 5f 70 61 79 6c 6f 61 64
    EXPECT_EQ(kv("742e6633322e6e616e5f7061796c6f6164")["value"], 0x7FC00001u);
    EXPECT_EQ(kv("742e6633322e6e65675f7a65726f")["value"], 0x80000000u);             // t.f32.neg_zero
    EXPECT_EQ(kv("742e693634")["value"], std::numeric_limits<std::int64_t>::min());  // t.i64
    EXPECT_EQ(kv("742e753634")["value"], 0xFFFFFFFFFFFFFFFFull);                     // t.u64
    // t.str.invalid_utf8: the bytes as written, in hex.
    EXPECT_EQ(kv("742e7374722e696e76616c69645f75746638")["value"], "fffe20626164208020c0af205c206261636b736c617368");
    // t.key.<FF><FE>: the key's own bytes survive.
    EXPECT_EQ(kv("742e6b65792efffe")["type"], 8);
    // a.u8.long: 1000 elements, all of them.
    const auto& u8s = kv("612e75382e6c6f6e67");
    EXPECT_EQ(u8s["elem_type"], 0);
    EXPECT_EQ(u8s["n"], 1000);
    ASSERT_EQ(u8s["values"].size(), 1000u);
    EXPECT_EQ(u8s["values"][999], (999 * 37) % 256);
    // Tensors: q8_0.rows is 2 blocks of 34 bytes; offsets are the padded running sum (alignment 32).
    const auto& tensors = p["tensors"];
    ASSERT_EQ(tensors.size(), 6u);
    EXPECT_EQ(tensors[2]["type_name"], "q8_0");
    EXPECT_EQ(tensors[2]["size"], 68);
    EXPECT_EQ(tensors[0]["offset"], 0);   // f32.matrix, 48 bytes -> next at 64
    EXPECT_EQ(tensors[1]["offset"], 64);  // f16.vector, 16 bytes -> next at 96
    EXPECT_EQ(tensors[2]["offset"], 96);
    EXPECT_EQ(tensors[2]["ne"], nlohmann::json::array({32, 2, 1, 1}));
}

// ggml keeps no stored dimension count: a trailing 1 is dropped from the reference's dims. This is
// a real difference between the readers that the comparison must normalise; pin it down here.
TEST(ProbeHeader, GgmlDropsTrailingUnitDimensions) {
    ASSERT_REFERENCE();
    gguf::Writer w;
    (void)w.add_tensor("column", 0, {4, 1}, zeros(16));
    const auto path = write(w, test_dir() / "trailing.gguf");
    EXPECT_EQ(ours(path).tensors.at(0).dims, (std::vector<std::uint64_t>{4, 1}));
    EXPECT_EQ(theirs(path).tensors.at(0).dims, (std::vector<std::uint64_t>{4}));
}

// ggml's data offset for a file without tensors is the end of the metadata, unpadded (docs/gguf-notes.md,
// "The reference's reader"); ours is padded. Worked out by hand: 24-byte header + one KV "general.architecture" =
// "x": 8 + 20 (key) + 4 (type) + 8 + 1 (string) = 65 bytes, padded to 32 -> 96.
TEST(ProbeHeader, ZeroTensorDataOffsetIsTheUnpaddedMetadataEnd) {
    ASSERT_REFERENCE();
    gguf::Writer w;
    w.add("general.architecture", gguf::Value::string("x"));
    const auto path = write(w, test_dir() / "no_tensors.gguf");
    EXPECT_EQ(theirs(path).data_offset, 65u);
    EXPECT_EQ(ours(path).data_offset, 96u);
}

TEST(ProbeHeader, AFileNameWithShellCharactersPassesThrough) {
    ASSERT_REFERENCE();
    const auto dir = test_dir() / "dir with spaces; and 'quotes'";
    const auto path = write(fixtures::mini_fixture(3), dir / "it's \"mini\"; echo pwned $(id) `id` *.gguf");
    const auto o = run_header(reference(), path, {});
    EXPECT_TRUE(o.ok) << o.message << "\n" << o.log_excerpt;
    const auto dash = write(fixtures::mini_fixture(3), test_dir() / "--help");
    // A name that looks like an option is still a file name: "--help" relative to the test's cwd does
    // not exist (unreadable, not a usage message); the absolute one reads.
    const auto relative = run_header(reference(), "--help", {});
    EXPECT_EQ(failure_class_name(relative.failure), "file_unreadable") << relative.message;
    EXPECT_TRUE(run_header(reference(), dash, {}).ok);
}

TEST(ProbeHeader, BadMagicIsInvalidGguf) {
    ASSERT_REFERENCE();
    auto bytes = fixtures::mini_fixture(3).to_bytes();
    bytes[0] = std::byte{'X'};  // named edit: magic "XGUF"
    const auto path = test_dir() / "bad_magic.gguf";
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    const auto o = run_header(reference(), path, {});
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(failure_class_name(o.failure), "invalid_gguf") << o.message;
    EXPECT_NE(o.message.find("invalid magic"), std::string::npos) << o.message;
    EXPECT_FALSE(o.signal.has_value());
    EXPECT_EQ(o.exit_code, 1);  // the probe says so in its status too
}

TEST(ProbeHeader, AMissingFileIsUnreadable) {
    ASSERT_REFERENCE();
    const auto o = run_header(reference(), test_dir() / "does-not-exist.gguf", {});
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(failure_class_name(o.failure), "file_unreadable") << o.message;
}

TEST(ProbeLoad, MiniFixtureFailsWithUnknownArchitecture) {
    ASSERT_REFERENCE();
    const auto path = write(fixtures::mini_fixture(3), test_dir() / "mini.gguf");
    const auto o = run_load(reference(), path, {});
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(failure_class_name(o.failure), "unknown_architecture") << o.message << "\n" << o.log_excerpt;
    EXPECT_NE(o.message.find("'test'"), std::string::npos) << o.message;
    EXPECT_FALSE(o.log_excerpt.empty());
}

TEST(ProbeLoad, TinyLlamaLoads) {
    ASSERT_REFERENCE();
    const testing_support::TinyLlama m;
    const auto path = write(testing_support::tiny_llama(m), test_dir() / "tiny.gguf");
    const auto o = run_load(reference(), path, {});
    ASSERT_TRUE(o.ok) << o.message << "\n" << o.log_excerpt;
    EXPECT_EQ(o.payload["n_layer"], m.n_layer);
    EXPECT_EQ(o.payload["n_embd"], m.n_embd);
    EXPECT_EQ(o.payload["n_vocab"], m.n_vocab);
    EXPECT_EQ(o.payload["n_params"], testing_support::tiny_llama_params(m));
    EXPECT_EQ(o.payload["n_tensors"], 2 + 9 * m.n_layer);
    EXPECT_EQ(o.payload["n_kv"], 10);
}

TEST(ProbeLoad, MissingTensorMissingKeyAndNanAreClassified) {
    ASSERT_REFERENCE();
    const auto dir = test_dir();
    struct Case {
        testing_support::TinyLlama model;
        const char* expected;
    };
    testing_support::TinyLlama no_norm, no_ctx, nan;
    no_norm.skip_tensor = "output_norm.weight";
    no_ctx.skip_context_length = true;
    nan.nan_tensor = "blk.0.ffn_up.weight";
    for (const auto& c :
         {Case{no_norm, "missing_tensor"}, Case{no_ctx, "missing_key"}, Case{nan, "invalid_tensor_data"}}) {
        const auto path = write(testing_support::tiny_llama(c.model), dir / (std::string(c.expected) + ".gguf"));
        const auto o = run_load(reference(), path, {});
        EXPECT_FALSE(o.ok);
        EXPECT_EQ(failure_class_name(o.failure), c.expected) << o.message << "\n" << o.log_excerpt;
    }
}

TEST(ProbeLoad, TruncatedTensorDataIsOutOfBounds) {
    ASSERT_REFERENCE();
    auto bytes = testing_support::tiny_llama().to_bytes();
    bytes.resize(bytes.size() - 100);  // named edit: cut the last tensor's data short
    const auto path = test_dir() / "truncated.gguf";
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    const auto o = run_load(reference(), path, {});
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(failure_class_name(o.failure), "data_out_of_bounds") << o.message << "\n" << o.log_excerpt;
}

// llama.cpp aborts on block_count = 0; the probe dies of SIGABRT and we do not.
TEST(ProbeLoad, AnAbortingReferenceIsReportedAsASignal) {
    ASSERT_REFERENCE();
    testing_support::TinyLlama m;
    m.n_layer = 0;
    const auto path = write(testing_support::tiny_llama(m), test_dir() / "zero_layers.gguf");
    const auto o = run_load(reference(), path, {});
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(failure_class_name(o.failure), "abort_or_signal") << o.message << "\n" << o.log_excerpt;
    ASSERT_TRUE(o.signal.has_value()) << o.message;
    EXPECT_EQ(*o.signal, SIGABRT);
    EXPECT_TRUE(o.payload.is_null());
    EXPECT_NE(o.log_excerpt.find("GGML_ASSERT"), std::string::npos) << o.log_excerpt;
}

TEST(ProbeRun, ATimeoutIsClassified) {
    ASSERT_REFERENCE();
    const auto path = write(testing_support::tiny_llama(), test_dir() / "tiny.gguf");
    RunOptions options;
    options.timeout = std::chrono::milliseconds(1);
    const auto o = run_load(reference(), path, options);
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(failure_class_name(o.failure), "timeout") << o.message;
    EXPECT_TRUE(o.timed_out);
}

// A failure the probe reports with an empty reason still has a class and a message to show (a fuzz
// find: {"ok":false,"log":"...","error":""} gave a failed stage with no message).
TEST(ProbeAnswer, AFailureWithAnEmptyErrorStillHasAReason) {
    StageOutcome o;
    read_probe_answer("header", 0, R"({"ok":false,"log":"type\n","error":""})", "", o);
    EXPECT_FALSE(o.ok);
    EXPECT_NE(o.failure, FailureClass::none);
    EXPECT_EQ(o.message, "ref-probe header failed and gave no reason");
}

// Integers of the answer that are floats, negative or too large are errors, never conversions (a
// fuzz find: a 41-digit data_offset parses as a double, and get<uint64_t> on it is undefined).
TEST(DescriptionFromHeader, ANumberThatIsNotTheIntegerItMustBeIsAnError) {
    const std::string base = R"({"ok":true,"version":3,"n_kv":0,"n_tensors":0,"alignment":32,"kv":[],"tensors":[],)";
    for (const std::string bad : {R"("data_offset":77777777777777777777777777777777777777796})", R"("data_offset":-1})",
                                  R"("data_offset":1.5})"}) {
        const auto d = description_from_header(nlohmann::json::parse(base + bad));
        ASSERT_FALSE(d.ok()) << bad;
        EXPECT_NE(d.error().message.find("data_offset is not an unsigned integer"), std::string::npos)
            << d.error().message;
    }
    const auto big_version = description_from_header(
        nlohmann::json::parse(R"({"ok":true,"version":4294967296,"n_kv":0,"n_tensors":0,"alignment":32,)"
                              R"("data_offset":0,"kv":[],"tensors":[]})"));
    EXPECT_FALSE(big_version.ok());
    const auto ok = description_from_header(nlohmann::json::parse(base + R"("data_offset":24})"));
    EXPECT_TRUE(ok.ok()) << ok.error().message;
}

// The consuming form (the matrix's: it frees each key-value's JSON once converted) reads what the
// const form reads, arrays of strings, floats and signed integers included, and our own reader agrees.
TEST(DescriptionFromHeader, ConsumingThePayloadReadsTheSameDescription) {
    ASSERT_REFERENCE();
    gguf::Writer w;
    w.add("general.architecture", Value::string("crossval-test"));
    std::vector<std::string> tokens;
    for (int i = 0; i < 300; ++i) tokens.push_back(fmt::format("tok{}", i));
    w.add("t.tokens", Value::strings(tokens));
    const std::vector<float> scores{-1.5F, 0.0F, 2.25F};
    w.add("t.scores", Value::f32s(scores));
    const std::vector<std::int32_t> ids{-7, 0, 7};
    w.add("t.ids", Value::i32s(ids));
    const auto path = write(w, test_dir() / "consumed.gguf");
    auto o = run_header(reference(), path, {});
    ASSERT_TRUE(o.ok) << o.message;
    const auto kept = description_from_header(o.payload);
    ASSERT_TRUE(kept.ok()) << kept.error().message;
    const auto consumed = description_from_header(std::move(o.payload));
    ASSERT_TRUE(consumed.ok()) << consumed.error().message;
    EXPECT_EQ(describe::to_json(*consumed), describe::to_json(*kept));
    const auto file = gguf::open(path);
    ASSERT_TRUE(file.ok());
    EXPECT_EQ(describe::to_json(*consumed)["kv"], describe::to_json(describe::describe(*file))["kv"]);
    ASSERT_EQ(consumed->kv.size(), 4u);
    EXPECT_EQ(consumed->kv[1].value["length"], 300);  // past the preview: compared by the array's hash
}

TEST(DescriptionFromHeader, RejectsAFailedPayload) {
    const auto d = description_from_header({{"ok", false}, {"error", "gguf_init_from_file returned NULL"}});
    ASSERT_FALSE(d.ok());
    EXPECT_NE(d.error().message.find("gguf_init_from_file returned NULL"), std::string::npos);
    EXPECT_FALSE(description_from_header(nlohmann::json::array()).ok());
    EXPECT_FALSE(description_from_header({{"ok", true}, {"version", "three"}}).ok());
}

}  // namespace
}  // namespace gguf::reference
