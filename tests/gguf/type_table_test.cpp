// The ggml type table, checked against the block layouts stated in the GGUF specification /
// ggml-common.h (worked out by hand here) and for internal consistency.
#include <gtest/gtest.h>

#include "gguf/types.hpp"

TEST(TypeTable, CoversEveryIdInOrder) {
    auto table = gguf::ggml_type_table();
    ASSERT_EQ(table.size(), 43u);
    for (std::uint32_t i = 0; i < table.size(); ++i) EXPECT_EQ(table[i].id, i);
    EXPECT_FALSE(gguf::ggml_type(43).has_value());
}

TEST(TypeTable, RemovedIds) {
    for (std::uint32_t id : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u}) {
        EXPECT_TRUE(gguf::ggml_type(id)->removed) << id;
        EXPECT_EQ(gguf::ggml_type(id)->block_size, 0u);
    }
}

TEST(TypeTable, BlockLayoutsWorkedOutByHand) {
    struct Row {
        std::uint32_t id;
        const char* name;
        std::uint32_t block;
        std::uint32_t bytes;
    };
    // bytes = fp16 scale(s) + packed quants, per the block structs
    const Row rows[] = {
        {0, "F32", 1, 4},
        {1, "F16", 1, 2},
        {2, "Q4_0", 32, 2 + 16},
        {3, "Q4_1", 32, 4 + 16},
        {6, "Q5_0", 32, 2 + 4 + 16},
        {7, "Q5_1", 32, 4 + 4 + 16},
        {8, "Q8_0", 32, 2 + 32},
        {9, "Q8_1", 32, 4 + 32},
        {10, "Q2_K", 256, 16 + 64 + 4},
        {11, "Q3_K", 256, 32 + 64 + 12 + 2},
        {12, "Q4_K", 256, 4 + 12 + 128},
        {13, "Q5_K", 256, 4 + 12 + 32 + 128},
        {14, "Q6_K", 256, 128 + 64 + 16 + 2},
        {15, "Q8_K", 256, 4 + 256 + 32},
        {24, "I8", 1, 1},
        {25, "I16", 1, 2},
        {26, "I32", 1, 4},
        {27, "I64", 1, 8},
        {28, "F64", 1, 8},
        {30, "BF16", 1, 2},
        {34, "TQ1_0", 256, 48 + 4 + 2},
        {35, "TQ2_0", 256, 64 + 2},
    };
    for (const auto& r : rows) {
        auto t = gguf::ggml_type(r.id);
        ASSERT_TRUE(t.has_value());
        EXPECT_EQ(t->name, r.name);
        EXPECT_EQ(t->block_size, r.block) << r.name;
        EXPECT_EQ(t->bytes_per_block, r.bytes) << r.name;
    }
}

TEST(TypeTable, NamesLookUpCaseInsensitively) {
    EXPECT_EQ(gguf::ggml_type_from_name("q8_0"), 8u);
    EXPECT_EQ(gguf::ggml_type_from_name("TQ2_0"), 35u);
    EXPECT_EQ(gguf::ggml_type_from_name("i2_s"), gguf::kTypeI2S);
    EXPECT_FALSE(gguf::ggml_type_from_name("Q4_2").has_value());  // removed
    EXPECT_FALSE(gguf::ggml_type_from_name("nope").has_value());
}

TEST(TypeTable, TensorSizes) {
    const std::uint64_t q8[] = {64, 3};
    EXPECT_EQ(gguf::tensor_nbytes(*gguf::ggml_type(8), q8), 2u * 3 * 34);
    const std::uint64_t bad_row[] = {33};
    EXPECT_FALSE(gguf::tensor_nbytes(*gguf::ggml_type(8), bad_row).has_value());
    const std::uint64_t wraps[] = {std::uint64_t{1} << 32, std::uint64_t{1} << 32};
    EXPECT_FALSE(gguf::element_count(wraps).has_value());
    const std::uint64_t i2s[] = {256, 4};
    EXPECT_EQ(gguf::tensor_nbytes(gguf::i2_s_traits(), i2s), 1024u / 4 + 32);
    const std::uint64_t none[] = {0, 7};
    EXPECT_EQ(gguf::tensor_nbytes(*gguf::ggml_type(0), none), 0u);
}
