// The neutral description and its JSON rendering.
#include <gtest/gtest.h>
#include <xxhash.h>
#include <limits>

#include "describe/description.hpp"
#include "support/build.hpp"

using namespace testing_support;
using gguf::Value;
using gguf::ValueType;
namespace d = gguf::describe;

TEST(Describe, StringsAreKeptOrEscapedNeverDropped) {
    EXPECT_EQ(d::render_string("plain \xc3\xa9"), "plain \xc3\xa9");
    EXPECT_EQ(d::render_string(std::string("a\xff") + "b\\c"), "a\\xffb\\\\c");
    EXPECT_EQ(d::render_string(std::string("\xe2\x82")), "\\xe2\\x82");
}

TEST(Describe, FloatsRoundTripAndSpecialsAreNamed) {
    gguf::Writer w;
    w.add("third", Value::f32(1.0f / 3.0f));
    w.add("nan", Value::f64(std::numeric_limits<double>::quiet_NaN()));
    w.add("ninf", Value::f32(-std::numeric_limits<float>::infinity()));
    auto b = w.to_bytes();
    auto desc = d::describe(must_parse(b));
    auto j = nlohmann::json::parse(d::to_json(desc).dump());
    EXPECT_EQ(static_cast<float>(j["kv"][0]["value"].get<double>()), 1.0f / 3.0f);
    EXPECT_EQ(j["kv"][1]["value"], "nan");
    EXPECT_EQ(j["kv"][2]["value"], "-inf");
}

TEST(Describe, LongArraysShowSixtyFourValuesAndAHash) {
    std::vector<std::int32_t> v(100);
    for (int i = 0; i < 100; ++i) v[i] = i * i;
    gguf::Writer w;
    w.add("long", Value::i32s(v));
    w.add("short", Value::i32s(std::span(v).first(64)));
    auto b = w.to_bytes();
    auto desc = d::describe(must_parse(b));
    const auto& long_v = desc.kv[0].value;
    EXPECT_EQ(long_v["type"], "int32");
    EXPECT_EQ(long_v["length"], 100);
    EXPECT_EQ(long_v["values"].size(), 64u);
    EXPECT_EQ(long_v["values"][63], 63 * 63);
    // the hash covers the raw little-endian element bytes
    char expected[17];
    std::snprintf(expected, sizeof expected, "%016llx",
                  static_cast<unsigned long long>(XXH64(v.data(), v.size() * 4, 0)));
    EXPECT_EQ(long_v["hash"], expected);
    EXPECT_FALSE(desc.kv[1].value.contains("hash"));
    EXPECT_EQ(desc.kv[1].value["values"].size(), 64u);
}

TEST(Describe, ByteSwappedAndLittleEndianFilesDescribeAlike) {
    auto build = [](bool big) {
        gguf::Writer w(gguf::WriterOptions{.version = 3, .big_endian = big});
        std::vector<std::string> tokens;
        for (int i = 0; i < 80; ++i) tokens.push_back("tok" + std::to_string(i));
        w.add("tokens", Value::strings(tokens));
        w.add("x", Value::f32(2.5f));
        EXPECT_TRUE(w.add_tensor("t", 0, {2}, Buffer(8)).ok());
        return w.to_bytes();
    };
    auto le = build(false);
    auto be = build(true);
    auto a = d::describe(must_parse(le));
    auto b = d::describe(must_parse(be));
    EXPECT_EQ(d::to_json(a), d::to_json(b));
    EXPECT_EQ(a.kv[0].digest, b.kv[0].digest);
}

TEST(Describe, TensorsCarryTypeNameDimsOffsetSize) {
    auto b = two_tensor_writer().to_bytes();
    auto j = d::to_json(d::describe(must_parse(b)));
    EXPECT_EQ(j["tensors"][1]["name"], "b");
    EXPECT_EQ(j["tensors"][1]["type"], "F32");
    EXPECT_EQ(j["tensors"][1]["dims"], nlohmann::json({3, 2}));
    EXPECT_EQ(j["tensors"][1]["offset"], 32);
    EXPECT_EQ(j["tensors"][1]["size"], 24);
    EXPECT_EQ(j["n_kv"], 2);
    EXPECT_EQ(j["data_offset"], 192);
}
