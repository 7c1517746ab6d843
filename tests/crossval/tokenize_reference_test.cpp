// Against the real reference (ctest label `reference`): the tokenize stage on the pinned bundle's
// vocabulary-only files. Every vocabulary that ships test-tokenizer-0 vectors passes against its .out
// (and its cpp_full stage passes through the vocabulary-only load); a token file with one id changed
// or one id dropped is caught at exactly that case and token. Without the reference every test here
// FAILS.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "crossval/flow.hpp"
#include "crossval/tokens.hpp"
#include "fixtures/tiny_model.hpp"
#include "reference/reference_env.hpp"

namespace {

namespace fs = std::filesystem;
using gguf::crossval::StageId;

fs::path models_dir() {
    return gguf::reference::pinned_reference_dir() / "src" / "models";
}

// The number of lines of a .out file, counted here without our parser: one id line per text.
std::size_t out_lines(const fs::path& out) {
    std::ifstream in(out);
    std::string line;
    std::size_t n = 0;
    while (std::getline(in, line)) ++n;
    return n;
}

gguf::crossval::Report run_tokenize(const fs::path& model, std::optional<fs::path> token_file = std::nullopt) {
    gguf::crossval::Options o;
    o.model = model;
    o.timeout = std::chrono::milliseconds(120000);
    o.tokenize.enabled = true;
    o.tokenize.token_file = std::move(token_file);
    return gguf::crossval::run(o);
}

const gguf::crossval::Stage& stage(const gguf::crossval::Report& r, StageId id) {
    const auto* s = r.stage(id);
    if (s == nullptr) throw std::runtime_error(fmt::format("no stage {}", gguf::crossval::stage_name(id)));
    return *s;
}

TEST(TokenizeReference, EveryVocabularyWithVectorsMatchesItsOutFile) {
    ASSERT_REFERENCE();
    std::vector<fs::path> with_vectors;
    for (const auto& e : fs::directory_iterator(models_dir())) {
        if (e.path().extension() != ".gguf") continue;
        if (fs::exists(e.path().string() + ".inp") && fs::exists(e.path().string() + ".out"))
            with_vectors.push_back(e.path());
    }
    // The pinned bundle (node-llama-cpp 3.21.1) ships 19 vocabulary files, 15 of them with vectors.
    ASSERT_EQ(with_vectors.size(), 15u);
    for (const auto& model : with_vectors) {
        SCOPED_TRACE(model.filename().string());
        const auto r = run_tokenize(model);
        const auto& t = stage(r, StageId::tokenize);
        EXPECT_TRUE(t.ok) << gguf::crossval::failure_name(t.failure) << ": " << t.message;
        const auto n = out_lines(model.string() + ".out");
        EXPECT_GT(n, 30u);
        EXPECT_EQ(t.details.value("n_cases", 0u), n);
        EXPECT_EQ(t.details.value("n_compared", 0u), n);
        EXPECT_EQ(t.details.value("n_matching", 0u), n);
        const auto& full = stage(r, StageId::cpp_full);
        EXPECT_TRUE(full.ok) << full.message;
        EXPECT_EQ(full.details.value("route", std::string()), "vocab_only");
        EXPECT_EQ(r.verdict, gguf::crossval::Verdict::pass) << gguf::crossval::verdict_name(r.verdict);
    }
}

TEST(TokenizeReference, VocabularyOnlyFilesWithoutVectorsLoadThroughTheVocabularyRoute) {
    ASSERT_REFERENCE();
    for (const char* name : {"ggml-vocab-aquila.gguf", "ggml-vocab-gpt-neox.gguf"}) {
        SCOPED_TRACE(name);
        gguf::crossval::Options o;
        o.model = models_dir() / name;
        o.timeout = std::chrono::milliseconds(120000);
        const auto r = gguf::crossval::run(o);
        const auto& full = stage(r, StageId::cpp_full);
        EXPECT_TRUE(full.ok) << gguf::crossval::failure_name(full.failure) << ": " << full.message;
        EXPECT_EQ(full.details.value("route", std::string()), "vocab_only");
        EXPECT_EQ(r.verdict, gguf::crossval::Verdict::pass);
    }
}

class PerturbedTokenFile : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = testing_support::test_dir();
        model_ = models_dir() / "ggml-vocab-llama-spm.gguf";
        auto cases = gguf::crossval::read_vectors(model_);
        ASSERT_TRUE(cases) << cases.error().message;
        cases_ = std::move(*cases);
    }
    fs::path write(const gguf::crossval::TokenCases& cases, const char* name) {
        const auto path = dir_ / name;
        std::ofstream(path) << gguf::crossval::to_token_file(cases);
        return path;
    }
    fs::path dir_, model_;
    gguf::crossval::TokenCases cases_;
};

TEST_F(PerturbedTokenFile, TheUnchangedFilePasses) {
    ASSERT_REFERENCE();
    const auto r = run_tokenize(model_, write(cases_, "same.json"));
    const auto& t = stage(r, StageId::tokenize);
    EXPECT_TRUE(t.ok) << t.message;
    EXPECT_EQ(t.details.value("n_matching", 0u), cases_.cases.size());
}

TEST_F(PerturbedTokenFile, AChangedIdIsCaughtAtItsCaseAndToken) {
    ASSERT_REFERENCE();
    // " Hello, world!" in llama-spm: 29871 15043 29892 3186 29991; change the third id (index 2).
    std::size_t k = cases_.cases.size();
    for (std::size_t i = 0; i < cases_.cases.size(); ++i) {
        if (cases_.cases[i].text == " Hello, world!") k = i;
    }
    ASSERT_LT(k, cases_.cases.size());
    auto changed = cases_;
    auto& ids = *changed.cases[k].expected;
    ASSERT_EQ(ids, (gguf::crossval::TokenIds{29871, 15043, 29892, 3186, 29991}));
    ids[2] = 1000;
    const auto r = run_tokenize(model_, write(changed, "changed.json"));
    const auto& t = stage(r, StageId::tokenize);
    ASSERT_FALSE(t.ok);
    EXPECT_EQ(gguf::crossval::failure_name(t.failure), "tokens_differ");
    EXPECT_EQ(r.verdict, gguf::crossval::Verdict::readers_disagree);
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_EQ(t.details.value("n_matching", 0u), cases_.cases.size() - 1);
    const auto& f = t.details["first_difference"];
    ASSERT_TRUE(f.is_object());
    EXPECT_EQ(f["case"], k);
    EXPECT_EQ(f["token_index"], 2);
    // The windows hold the differing token with its text: ours 1000, the reference's ',' (29892).
    auto at = [](const nlohmann::json& window, std::size_t index) {
        for (const auto& e : window)
            if (e["index"] == index) return e;
        return nlohmann::json();
    };
    EXPECT_EQ(at(f["expected"], 2)["id"], 1000);
    EXPECT_EQ(at(f["actual"], 2)["id"], 29892);
    EXPECT_EQ(at(f["actual"], 2)["piece"], ",");
    EXPECT_NE(t.message.find("at token 2"), std::string::npos) << t.message;
}

TEST_F(PerturbedTokenFile, AMissingLastIdIsCaughtAtTheEnd) {
    ASSERT_REFERENCE();
    std::size_t k = cases_.cases.size();
    for (std::size_t i = 0; i < cases_.cases.size(); ++i) {
        if (cases_.cases[i].text == "Hello world") k = i;  // 15043 3186
    }
    ASSERT_LT(k, cases_.cases.size());
    auto shorter = cases_;
    shorter.cases[k].expected->pop_back();
    const auto r = run_tokenize(model_, write(shorter, "shorter.json"));
    const auto& t = stage(r, StageId::tokenize);
    ASSERT_FALSE(t.ok);
    EXPECT_EQ(gguf::crossval::failure_name(t.failure), "tokens_differ");
    EXPECT_EQ(t.details["first_difference"]["case"], k);
    EXPECT_EQ(t.details["first_difference"]["token_index"], 1);
}

// --text for the decode stages: the reference tokenizes the words (BOS added, as the vocabulary asks)
// and the logits and trace stages decode those ids. The tiny llama vocabulary (SentencePiece with
// byte fallback) has no piece for "Hi!": it is the space-prefix piece, then the byte tokens.
TEST(TextForDecode, LogitsAndTraceDecodeTheReferencesIdsOfTheText) {
    ASSERT_REFERENCE();
    const auto dir = testing_support::test_dir();
    const auto model = dir / "tiny-llama-f32.gguf";
    auto w = gguf::fixtures::tiny_model({});
    ASSERT_TRUE(w) << w.error().message;
    ASSERT_TRUE(w->write_file(model));
    const auto& tokens = gguf::fixtures::tiny_vocab().tokens;
    const auto space = std::find(tokens.begin(), tokens.end(), "\u2581") - tokens.begin();
    ASSERT_LT(static_cast<std::size_t>(space), tokens.size());
    const auto byte = [](char c) { return 3 + static_cast<unsigned char>(c); };  // <0x00> is id 3
    const nlohmann::json expected = {1, space, byte('H'), byte('i'), byte('!')};

    gguf::crossval::Options o;
    o.model = model;
    o.timeout = std::chrono::milliseconds(120000);
    o.logits.enabled = true;
    o.logits.text = "Hi!";
    o.trace.enabled = true;
    const auto r = gguf::crossval::run(o);
    const auto& logits = stage(r, StageId::logits);
    ASSERT_TRUE(logits.ok) << logits.message;
    EXPECT_EQ(logits.details["tokens"], expected);
    EXPECT_EQ(logits.details["text"], "Hi!");
    const auto& trace = stage(r, StageId::trace);
    ASSERT_TRUE(trace.ok) << trace.message;
    EXPECT_EQ(trace.details["tokens"], expected);
}

}  // namespace
