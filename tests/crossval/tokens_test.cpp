// The tokenizer case formats: test-tokenizer-0's .inp/.out vectors and our token file.
#include <gtest/gtest.h>

#include "crossval/tokens.hpp"

namespace {

using gguf::crossval::TokenIds;
using gguf::crossval::TokensCode;

TEST(Vectors, TextsAreSplitOnTheSeparatorAndIdsOnSpaces) {
    const std::string inp = "a\n__ggml_vocab_test__\n\n__ggml_vocab_test__\n x\ny\n__ggml_vocab_test__\n";
    const std::string out = " 1 2\n\n 30 4\n";
    auto c = gguf::crossval::parse_vectors(inp, out);
    ASSERT_TRUE(c) << c.error().message;
    ASSERT_EQ(c->cases.size(), 3u);
    EXPECT_EQ(c->cases[0].text, "a");
    EXPECT_EQ(c->cases[1].text, "");
    EXPECT_EQ(c->cases[2].text, " x\ny");
    EXPECT_EQ(*c->cases[0].expected, (TokenIds{1, 2}));
    EXPECT_TRUE(c->cases[1].expected->empty());
    EXPECT_EQ(*c->cases[2].expected, (TokenIds{30, 4}));
    EXPECT_FALSE(c->add_special);
    EXPECT_FALSE(c->parse_special);
}

TEST(Vectors, CountsThatDifferAndNonNumbersAreErrors) {
    auto c = gguf::crossval::parse_vectors("a\n__ggml_vocab_test__\nb", " 1\n");
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code, TokensCode::bad_vectors);
    auto d = gguf::crossval::parse_vectors("a", " 1 x2\n");
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().code, TokensCode::bad_vectors);
    EXPECT_EQ(d.error().offset, 3u);  // where "x2" starts
}

TEST(TokenFile, RoundTripsTextsThatAreNotUtf8) {
    gguf::crossval::TokenCases cases;
    cases.add_special = true;
    cases.cases.push_back({"Hello", TokenIds{1, 2}});
    cases.cases.push_back({std::string("\xff\x00z", 3), TokenIds{}});
    const auto text = gguf::crossval::to_token_file(cases);
    EXPECT_NE(text.find("\"text_hex\": \"ff007a\""), std::string::npos) << text;
    auto back = gguf::crossval::parse_token_file(text);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_TRUE(back->add_special);
    ASSERT_EQ(back->cases.size(), 2u);
    EXPECT_EQ(back->cases[0].text, "Hello");
    EXPECT_EQ(*back->cases[0].expected, (TokenIds{1, 2}));
    EXPECT_EQ(back->cases[1].text, std::string("\xff\x00z", 3));
}

TEST(TokenFile, MalformedFilesAreErrors) {
    for (const char* bad : {
             "[]",
             R"({"format":"x","version":1,"cases":[]})",
             R"({"format":"gguf-crossval-tokens","version":2,"cases":[]})",
             R"({"format":"gguf-crossval-tokens","version":1})",
             R"({"format":"gguf-crossval-tokens","version":1,"cases":[{"tokens":[1]}]})",
             R"({"format":"gguf-crossval-tokens","version":1,"cases":[{"text":"a","text_hex":"61","tokens":[]}]})",
             R"({"format":"gguf-crossval-tokens","version":1,"cases":[{"text":"a","tokens":[-1]}]})",
             R"({"format":"gguf-crossval-tokens","version":1,"cases":[{"text":"a","tokens":[2147483648]}]})",
             R"({"format":"gguf-crossval-tokens","version":1,"cases":[{"text_hex":"6","tokens":[]}]})",
             R"({"format":"gguf-crossval-tokens","version":1,"add_special":1,"cases":[]})",
         }) {
        SCOPED_TRACE(bad);
        auto c = gguf::crossval::parse_token_file(bad);
        ASSERT_FALSE(c);
        EXPECT_EQ(c.error().code, TokensCode::bad_json);
    }
    EXPECT_FALSE(gguf::crossval::parse_token_file(std::string(100000, '[')));
}

TEST(FirstDifference, NamesTheFirstDifferingIndexOrTheShorterEnd) {
    using gguf::crossval::first_difference;
    EXPECT_EQ(first_difference({1, 2, 3}, {1, 2, 3}), std::nullopt);
    EXPECT_EQ(first_difference({1, 2, 3}, {1, 5, 3}), 1u);
    EXPECT_EQ(first_difference({1, 2}, {1, 2, 3}), 2u);
    EXPECT_EQ(first_difference({1, 2, 3}, {1, 2}), 2u);
    EXPECT_EQ(first_difference({}, {7}), 0u);
}

}  // namespace
