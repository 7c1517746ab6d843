// Hostile JSON from outside: a reference probe (a user's own build can print anything), logits
// files, manifests. Each gives a clear failure, never an abort, a stack overflow or a huge allocation.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "crossval/logits.hpp"
#include "reference/reference.hpp"
#include "support/temp_dir.hpp"
#include "util/json_depth.hpp"

namespace {

namespace fs = std::filesystem;
using gguf::reference::FailureClass;

class HostileJson : public testing_support::TempDirTest {
protected:
    // A reference whose probe is a script printing `output`.
    gguf::reference::Reference fake_reference(const std::string& output) {
        const auto body = dir_ / "answer.json";
        { std::ofstream(body, std::ios::binary) << output; }
        const auto probe = dir_ / "fake-probe";
        // An absolute /bin/cat: the probe's PATH finds no program.
        { std::ofstream(probe) << "#!/bin/sh\nexec /bin/cat '" << body.string() << "'\n"; }
        fs::permissions(probe, fs::perms::owner_all);
        gguf::reference::Reference ref;
        ref.name = "fake";
        ref.probe = probe;
        ref.lib_dir = dir_;
        return ref;
    }
    gguf::reference::StageOutcome header_from(const std::string& output) {
        return gguf::reference::run_header(fake_reference(output), dir_ / "model.gguf", {});
    }
};

TEST_F(HostileJson, ProbeLogOfTheWrongTypeIsAFailureNotAnAbort) {
    const auto o = header_from(R"({"ok":false,"log":5})");
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.failure, FailureClass::other);
    EXPECT_NE(o.message.find("wrong type"), std::string::npos) << o.message;
}

TEST_F(HostileJson, ProbeErrorThatIsAnArrayIsAFailureNotAnAbort) {
    const auto o = header_from(R"({"ok":false,"error":[1,2]})");
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.failure, FailureClass::other);
}

TEST_F(HostileJson, ProbeOkThatIsNotABooleanIsAFailure) {
    const auto o = header_from(R"({"ok":"yes"})");
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.failure, FailureClass::other);
}

TEST_F(HostileJson, DeeplyNestedProbeOutputIsRejectedBeforeParsing) {
    const auto o = header_from(R"({"ok":true,"x":)" + std::string(100000, '[') + std::string(100000, ']') + "}");
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.failure, FailureClass::other);
    EXPECT_TRUE(o.payload.is_null());
}

TEST_F(HostileJson, HeaderPayloadWithFieldsOfTheWrongTypeIsAnError) {
    for (const char* text : {R"({"ok":"yes"})", R"({"ok":true,"version":"3"})", R"({"ok":false,"error":7})",
                             R"({"ok":true,"version":3,"n_kv":0,"n_tensors":1,"alignment":32,"data_offset":0,"kv":[],
             "tensors":[{"name_hex":"61","type":"f32","dims":["x"]}]})"}) {
        const auto d = gguf::reference::description_from_header(nlohmann::json::parse(text));
        EXPECT_FALSE(d) << text;
    }
}

TEST_F(HostileJson, DepthGuardCountsOnlyBracketsOutsideStrings) {
    EXPECT_TRUE(gguf::util::json_depth_within(R"({"a":"[[[[[[[[[[[[[["})", 2));
    EXPECT_TRUE(gguf::util::json_depth_within(R"({"a":"\"[[[[["})", 1));
    EXPECT_FALSE(gguf::util::json_depth_within("[[[", 2));
    EXPECT_TRUE(gguf::util::json_depth_within("[[]]", 2));
}

TEST_F(HostileJson, LogitsValueOutOfDoubleRangeIsAnError) {
    const auto l = gguf::crossval::parse_logits_json(R"({"n_vocab":1,"logits":[[1e400]]})");
    ASSERT_FALSE(l);
}

TEST_F(HostileJson, LogitsHugeVocabularyWithEmptyRowsIsAnErrorWithoutAllocating) {
    const auto l = gguf::crossval::parse_logits_json(R"({"n_vocab":4294967295,"logits":[[],[],[]]})");
    ASSERT_FALSE(l);
    EXPECT_NE(l.error().message.find("n_vocab"), std::string::npos) << l.error().message;
}

TEST_F(HostileJson, DeeplyNestedLogitsFileIsAnError) {
    const auto text = R"({"n_vocab":1,"logits":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
    EXPECT_FALSE(gguf::crossval::parse_logits_json(text));
}

TEST_F(HostileJson, GlogHeaderWhoseSizeWrapsIsTruncated) {
    // 2^31 positions x 2^31 values x 4 bytes = 2^64: wraps to 0 in unchecked 64-bit arithmetic.
    std::vector<std::byte> b(16);
    std::memcpy(b.data(), "GLOG", 4);
    const std::uint32_t version = 1, n = 0x80000000u;
    std::memcpy(b.data() + 4, &version, 4);
    std::memcpy(b.data() + 8, &n, 4);
    std::memcpy(b.data() + 12, &n, 4);
    const auto l = gguf::crossval::parse_logits_binary({b.data(), b.size()});
    ASSERT_FALSE(l);
    EXPECT_EQ(l.error().code, gguf::crossval::LogitsCode::too_large);
}

}  // namespace
