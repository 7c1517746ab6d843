// Duplicate keys and tensor names among many: the reader's name set grows past its first table.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <algorithm>

#include "gguf/name_set.hpp"
#include "support/build.hpp"

using namespace testing_support;

namespace {

// Offset of the n-th (0-based) occurrence of `needle` in `b`.
std::uint64_t nth(const Buffer& b, const std::string& needle, int n) {
    auto it = b.begin();
    for (int k = 0;; ++k) {
        it = std::search(it, b.end(), reinterpret_cast<const std::byte*>(needle.data()),
                         reinterpret_cast<const std::byte*>(needle.data() + needle.size()));
        if (it == b.end()) throw std::runtime_error("not found");
        if (k == n) return static_cast<std::uint64_t>(it - b.begin());
        ++it;
    }
}

}  // namespace

TEST(NameSet, InsertsOnceAndGrows) {
    std::vector<std::string> names;
    for (int i = 0; i < 5000; ++i) names.push_back(fmt::format("blk.{}.w", i));
    names.push_back("");
    gguf::NameSet set(3);
    for (const auto& n : names) EXPECT_TRUE(set.insert(n)) << n;
    for (const auto& n : names) EXPECT_FALSE(set.insert(std::string(n))) << n;  // equal text, other storage
    EXPECT_TRUE(set.insert("blk.5000.w"));
}

TEST(Duplicates, TensorNameRepeatedAfterThousandsIsFound) {
    gguf::Writer w;
    for (int i = 0; i < 3000; ++i) ASSERT_TRUE(w.add_tensor(fmt::format("t{:05}", i), 0, {0}, Buffer{}).ok());
    ASSERT_TRUE(w.add_tensor("t01234", 0, {0}, Buffer{}).ok());
    const auto b = w.to_bytes();
    auto r = gguf::parse(view(b));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(gguf::code_name(r.error().code), "duplicate_tensor");
    EXPECT_EQ(r.error().offset, nth(b, "t01234", 1) - 8);  // its info starts with the name's length
    EXPECT_EQ(r.error().message, "tensor 't01234' appears twice");
}

TEST(Duplicates, KeyRepeatedAfterThousandsIsFound) {
    gguf::Writer w;
    for (int i = 0; i < 3000; ++i) w.add(fmt::format("k.{:05}", i), gguf::Value::u8(1));
    w.add("k.02999", gguf::Value::u8(2));
    const auto b = w.to_bytes();
    auto r = gguf::parse(view(b));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(gguf::code_name(r.error().code), "duplicate_key");
    EXPECT_EQ(r.error().offset, nth(b, "k.02999", 1) - 8);
}

TEST(Duplicates, ThousandsOfDistinctNamesParse) {
    gguf::Writer w;
    for (int i = 0; i < 3000; ++i) w.add(fmt::format("k.{}", i), gguf::Value::u8(1));
    for (int i = 0; i < 3000; ++i) ASSERT_TRUE(w.add_tensor(fmt::format("t.{}", i), 0, {0}, Buffer{}).ok());
    const auto b = w.to_bytes();
    auto r = gguf::parse(view(b));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->kvs().size(), 3000u);
    EXPECT_EQ(r->tensors().size(), 3000u);
}
