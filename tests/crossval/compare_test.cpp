// The comparison of two descriptions, on descriptions built by our own reader from Writer files.
#include <gtest/gtest.h>

#include "crossval/compare.hpp"
#include "crossval/summary.hpp"
#include "support/build.hpp"

using namespace testing_support;
namespace d = gguf::describe;
using gguf::crossval::compare_descriptions;

namespace {

d::Description describe_writer(const gguf::Writer& w) {
    auto b = w.to_bytes();
    return d::describe(must_parse(b));
}

}  // namespace

TEST(Compare, IdenticalDescriptionsAreEqual) {
    auto a = describe_writer(two_tensor_writer());
    auto c = compare_descriptions(a, a);
    EXPECT_TRUE(c.equal);
    EXPECT_TRUE(c.mismatches.empty());
    EXPECT_TRUE(c.notes.empty());
}

TEST(Compare, EveryDifferingFieldIsListed) {
    auto ours = describe_writer(two_tensor_writer());
    auto theirs = ours;
    theirs.kv[1].value = 8;
    theirs.tensors[1].dims = {2, 3};
    theirs.tensors[0].offset = 64;
    theirs.alignment = 64;
    auto c = compare_descriptions(ours, theirs);
    EXPECT_FALSE(c.equal);
    ASSERT_EQ(c.mismatches.size(), 4u);
    EXPECT_EQ(c.mismatches[0].path.render(), "alignment");
    EXPECT_EQ(c.mismatches[1].path.render(), "kv[1](test.count).value");
    EXPECT_EQ(c.mismatches[1].ours, 7);
    EXPECT_EQ(c.mismatches[1].reference, 8);
    EXPECT_EQ(c.mismatches[2].path.render(), "tensors[0](a).offset");
    EXPECT_EQ(c.mismatches[3].path.render(), "tensors[1](b).dims");
    EXPECT_EQ(c.mismatches[3].ours, nlohmann::json({3, 2}));
}

TEST(Compare, SameRenderingDifferentBytesIsAMismatch) {
    auto ours = describe_writer(two_tensor_writer());
    auto theirs = ours;
    theirs.kv[0].digest ^= 0x10;
    auto c = compare_descriptions(ours, theirs);
    ASSERT_EQ(c.mismatches.size(), 1u);
    EXPECT_EQ(c.mismatches[0].path.render(), "kv[0](general.architecture).raw_bytes_xxh64");
}

TEST(Compare, MissingEntriesOnEitherSide) {
    auto ours = describe_writer(two_tensor_writer());
    auto theirs = ours;
    theirs.kv.pop_back();
    theirs.n_kv = 1;
    theirs.tensors.pop_back();
    theirs.n_tensors = 1;
    auto c = compare_descriptions(ours, theirs);
    std::vector<std::string> fields;
    for (const auto& m : c.mismatches) fields.push_back(m.path.render());
    EXPECT_EQ(fields, (std::vector<std::string>{"n_kv", "n_tensors", "kv[1](test.count).key", "tensors[1](b).name"}));
    EXPECT_TRUE(c.mismatches[2].reference.is_null());
}

TEST(Compare, ZeroTensorUnpaddedDataOffsetIsNormalisedAndNoted) {
    gguf::Writer w;
    w.add("k", gguf::Value::u8(1));  // metadata ends at 38; padded: 64
    auto ours = describe_writer(w);
    ASSERT_EQ(ours.data_offset, 64u);
    auto theirs = ours;
    theirs.data_offset = 38;
    auto c = compare_descriptions(ours, theirs);
    EXPECT_TRUE(c.equal);
    ASSERT_EQ(c.notes.size(), 1u);
    EXPECT_EQ(c.notes[0].kind, gguf::crossval::NoteKind::zero_tensor_data_offset);
    EXPECT_NE(c.notes[0].text.find("unpadded"), std::string::npos);
    // Any other data offset difference is a mismatch.
    theirs.data_offset = 32;
    EXPECT_FALSE(compare_descriptions(ours, theirs).equal);
    // And with tensors there is no normalisation at all.
    auto with_tensors = describe_writer(two_tensor_writer());
    auto other = with_tensors;
    other.data_offset -= 24;
    EXPECT_FALSE(compare_descriptions(with_tensors, other).equal);
}

TEST(Compare, TrailingUnitDimsAreNormalisedButOtherShapesAreNot) {
    gguf::Writer w;
    ASSERT_TRUE(w.add_tensor("t", 0, {4, 1, 1}, Buffer(16)).ok());
    auto ours = describe_writer(w);
    auto theirs = ours;
    theirs.tensors[0].dims = {4};
    auto c = compare_descriptions(ours, theirs);
    EXPECT_TRUE(c.equal);
    ASSERT_EQ(c.notes.size(), 1u);
    EXPECT_EQ(c.notes[0].kind, gguf::crossval::NoteKind::trailing_unit_dims);
    EXPECT_NE(c.notes[0].text.find("trailing"), std::string::npos);
    theirs.tensors[0].dims = {4, 1, 2};
    EXPECT_FALSE(compare_descriptions(ours, theirs).equal);
    theirs.tensors[0].dims = {1, 4};
    EXPECT_FALSE(compare_descriptions(ours, theirs).equal);
}

TEST(Compare, AScalarStoredWithNoDimsMatchesGgmlsOneDim) {
    // ggml_n_dims is at least 1: a tensor stored with 0 dims (one element) comes back as [1].
    gguf::Writer w;
    ASSERT_TRUE(w.add_tensor("s", 0, {}, Buffer(4)).ok());
    auto ours = describe_writer(w);
    ASSERT_TRUE(ours.tensors[0].dims.empty());
    auto theirs = ours;
    theirs.tensors[0].dims = {1};
    auto c = compare_descriptions(ours, theirs);
    EXPECT_TRUE(c.equal);
    EXPECT_EQ(c.notes.size(), 1u);
    theirs.tensors[0].dims = {2};
    EXPECT_FALSE(compare_descriptions(ours, theirs).equal);
}
