// The writer: read(write(x)) == x for every value type and tensor type; layout as ggml writes it.
#include <gtest/gtest.h>
#include <limits>

#include "support/build.hpp"
#include "support/temp_dir.hpp"

using namespace testing_support;
using gguf::Value;
using gguf::ValueType;

namespace {

std::vector<std::pair<std::string, Value>> one_of_each() {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    return {
        {"u8", Value::u8(255)},
        {"i8", Value::i8(-128)},
        {"u16", Value::u16(65535)},
        {"i16", Value::i16(-32768)},
        {"u32", Value::u32(0xdeadbeef)},
        {"i32", Value::i32(-1)},
        {"f32", Value::f32(nan)},
        {"bool", Value::boolean(false)},
        {"string", Value::string("h\xc3\xa9llo")},
        {"u64", Value::u64(0x0123456789abcdefULL)},
        {"i64", Value::i64(-42)},
        {"f64", Value::f64(-0.0)},
        {"empty_string", Value::string("")},
        {"empty_array", Value::array(ValueType::float64, {})},
        {"nested", Value::array(ValueType::array, {Value::strings({"x", "yz"}), Value::array(ValueType::int8, {})})},
    };
}

}  // namespace

TEST(Writer, RoundTripsEveryValueTypeBothByteOrders) {
    for (bool big : {false, true}) {
        gguf::Writer w(gguf::WriterOptions{.version = 3, .big_endian = big});
        auto items = one_of_each();
        for (auto& [k, v] : items) w.add(k, v);
        // arrays of every element type
        for (std::uint32_t t = 0; t < gguf::kValueTypeCount; ++t) {
            const auto type = static_cast<ValueType>(t);
            std::vector<Value> elems;
            for (std::uint64_t i = 0; i < 3; ++i) {
                if (type == ValueType::string)
                    elems.push_back(Value::string(std::string(i, 'a')));
                else if (type == ValueType::array)
                    elems.push_back(Value::array(ValueType::uint8, {Value::u8(1)}));
                else if (type == ValueType::boolean)
                    elems.push_back(Value::boolean(i % 2 == 1));
                else
                    elems.push_back(Value::scalar(type, 0x8070605040302010ULL + i));
            }
            items.emplace_back("array." + std::string(gguf::value_type_name(type)), Value::array(type, elems));
            w.add(items.back().first, items.back().second);
        }
        auto b = w.to_bytes();
        auto f = must_parse(b);
        ASSERT_EQ(f.kvs().size(), items.size());
        for (std::size_t i = 0; i < items.size(); ++i) {
            EXPECT_EQ(f.kvs()[i].key, items[i].first);
            EXPECT_EQ(Value::from_view(f.kvs()[i].value), items[i].second) << items[i].first << " big=" << big;
        }
    }
}

TEST(Writer, RoundTripsEveryTensorType) {
    gguf::Writer w;
    std::vector<std::tuple<std::string, std::uint32_t, std::vector<std::uint64_t>, Buffer>> expected;
    for (const auto& t : gguf::ggml_type_table()) {
        if (t.removed) continue;
        const std::uint64_t ne0 = t.block_size * 2;
        Buffer data(2 * 3 * t.bytes_per_block);
        for (std::size_t i = 0; i < data.size(); ++i) data[i] = std::byte(i * 7 + t.id);
        expected.emplace_back(std::string(t.name), t.id, std::vector<std::uint64_t>{ne0, 3}, data);
        ASSERT_TRUE(w.add_tensor(std::string(t.name), t.id, {ne0, 3}, data).ok()) << t.name;
    }
    auto b = w.to_bytes();
    auto f = must_parse(b);
    ASSERT_EQ(f.tensors().size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const auto& t = f.tensors()[i];
        const auto& [name, type, dims, data] = expected[i];
        EXPECT_EQ(t.name, name);
        EXPECT_EQ(t.type, type);
        EXPECT_EQ(std::vector<std::uint64_t>(t.dims().begin(), t.dims().end()), dims);
        EXPECT_TRUE(std::equal(t.data.begin(), t.data.end(), data.begin(), data.end())) << name;
        EXPECT_EQ(t.offset % 32, 0u);
    }
}

TEST(Writer, CountsAndOffsetsAreBackpatchedFromContent) {
    auto b = two_tensor_writer().to_bytes();
    EXPECT_EQ(get<std::uint64_t>(b, 8), 2u);   // n_tensors
    EXPECT_EQ(get<std::uint64_t>(b, 16), 2u);  // n_kv
    auto f = must_parse(b);
    EXPECT_EQ(f.tensors()[1].offset, 32u);
}

TEST(Writer, PadsLikeGgml) {
    // ggml pads the metadata to the alignment and every tensor's data to the alignment, zero bytes.
    auto b = two_tensor_writer().to_bytes();
    auto f = must_parse(b);
    for (auto i = f.metadata_end(); i < f.data_offset(); ++i) EXPECT_EQ(b[i], std::byte{0});
    EXPECT_EQ(b.size() % 32, 0u);
    for (auto i = f.data_offset() + 16; i < f.data_offset() + 32; ++i) EXPECT_EQ(b[i], std::byte{0});
}

TEST(Writer, ZeroTensorsStillPadToAlignment) {
    gguf::Writer w;
    w.add("k", Value::u8(1));
    EXPECT_EQ(w.to_bytes().size(), 64u);
}

TEST(Writer, IsDeterministic) {
    EXPECT_EQ(two_tensor_writer().to_bytes(), two_tensor_writer().to_bytes());
}

TEST(Writer, FileAndMemoryOutputsAreIdentical) {
    auto path = testing_support::test_dir() / "writer_test" / "sub" / "x.gguf";
    auto w = two_tensor_writer();
    ASSERT_TRUE(w.write_file(path).ok());
    auto f = gguf::open(path);
    ASSERT_TRUE(f.ok());
    auto mem = w.to_bytes();
    EXPECT_TRUE(std::equal(f->bytes().begin(), f->bytes().end(), mem.begin(), mem.end()));
    std::filesystem::remove_all(path.parent_path().parent_path());
}

TEST(Writer, FillCallbackStreamsData) {
    gguf::Writer w;
    ASSERT_TRUE(w.add_tensor("t", 24, {100}, [](std::uint64_t off, std::span<std::byte> chunk) {
                     for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = std::byte(off + i);
                 }).ok());
    auto b = w.to_bytes();
    auto f = must_parse(b);
    EXPECT_EQ(f.tensors()[0].data[99], std::byte{99});
}

TEST(Writer, RejectsDataOfTheWrongSize) {
    gguf::Writer w;
    auto s = w.add_tensor("t", 0, {4}, Buffer(15));
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, gguf::Code::tensor_data_out_of_bounds);
    EXPECT_FALSE(w.add_tensor("q", 8, {31}, Buffer(34)).ok());  // Q8_0 rows need multiples of 32
    EXPECT_FALSE(w.add_tensor("r", 4, {1}, Buffer(0)).ok());    // removed type
}
