// The peer readers' runner and locators, without the real peers: a stand-in adapter (a Python
// one-liner) that answers, crashes or hangs on chosen files; package directories made in the test.
// Also the converter's nested arrays, which only the peers report.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "reference/peers.hpp"
#include "support/build.hpp"
#include "support/temp_dir.hpp"

namespace gguf::reference {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

// Prints {"ok": true, "file": NAME} for each file, {"ok": false, "error": ...} for names holding
// "bad", kills itself with SIGSEGV on "crash" and sleeps on "hang": one line per file, flushed.
constexpr const char* kStandIn = R"(
import json, os, signal, sys, time
for path in sys.argv[1:]:
    if "crash" in path:
        os.kill(os.getpid(), signal.SIGSEGV)
    if "hang" in path:
        time.sleep(60)
    if "bad" in path:
        out = {"ok": False, "error": "ValueError: " + path + " is bad"}
    else:
        out = {"ok": True, "file": path}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
)";

Peer stand_in() {
    Peer p;
    p.name = "stand-in";
    p.available = true;
    p.program = "/usr/bin/python3";
    p.args = {"-c", kStandIn};
    return p;
}

std::vector<fs::path> paths(std::initializer_list<const char*> names) {
    std::vector<fs::path> out;
    for (const auto* n : names) out.emplace_back(n);
    return out;
}

TEST(PeerBatch, OneAnswerPerFileInOrder) {
    const auto out = run_peer_batch(stand_in(), paths({"a", "bad1", "b"}), RunOptions{30s});
    ASSERT_EQ(out.size(), 3u);
    EXPECT_TRUE(out[0].ok);
    EXPECT_EQ(out[0].payload["file"], "a");
    EXPECT_FALSE(out[1].ok);
    EXPECT_EQ(out[1].failure, FailureClass::invalid_gguf);
    EXPECT_EQ(out[1].message, "ValueError: bad1 is bad");
    EXPECT_TRUE(out[2].ok);
    EXPECT_EQ(out[2].payload["file"], "b");
}

TEST(PeerBatch, ACrashIsTheCrashingFilesAloneAndTheRestStillRun) {
    const auto out = run_peer_batch(stand_in(), paths({"a", "crash", "b", "bad", "c"}), RunOptions{30s});
    ASSERT_EQ(out.size(), 5u);
    EXPECT_TRUE(out[0].ok);
    EXPECT_FALSE(out[1].ok);
    EXPECT_EQ(out[1].failure, FailureClass::abort_or_signal);
    ASSERT_TRUE(out[1].signal.has_value());
    EXPECT_EQ(*out[1].signal, SIGSEGV);
    EXPECT_TRUE(out[2].ok);
    EXPECT_EQ(out[2].payload["file"], "b");
    EXPECT_EQ(out[3].failure, FailureClass::invalid_gguf);
    EXPECT_TRUE(out[4].ok);
    EXPECT_EQ(out[4].payload["file"], "c");
}

TEST(PeerBatch, AHangIsATimeoutOfThatFileOnly) {
    const auto out = run_peer_batch(stand_in(), paths({"a", "hang", "b"}), RunOptions{2s});
    ASSERT_EQ(out.size(), 3u);
    EXPECT_TRUE(out[0].ok);
    EXPECT_FALSE(out[1].ok);
    EXPECT_EQ(out[1].failure, FailureClass::timeout);
    EXPECT_TRUE(out[1].timed_out);
    EXPECT_TRUE(out[2].ok);
}

TEST(PeerBatch, AnUnavailablePeerAnswersUnavailableForEveryFile) {
    Peer p = stand_in();
    p.available = false;
    p.why_unavailable = "not installed: run scripts/fetch-peers";
    const auto out = run_peer_batch(p, paths({"a", "b"}), RunOptions{30s});
    ASSERT_EQ(out.size(), 2u);
    for (const auto& o : out) {
        EXPECT_FALSE(o.ok);
        EXPECT_EQ(o.failure, FailureClass::reference_unavailable);
        EXPECT_EQ(o.message, "not installed: run scripts/fetch-peers");
    }
}

TEST(PeerBatch, AProgramThatDoesNotExistIsUnavailableNotAPass) {
    Peer p = stand_in();
    p.program = "/nonexistent/python3";
    const auto out = run_peer(p, "a", RunOptions{30s});
    EXPECT_FALSE(out.ok);
    EXPECT_EQ(out.failure, FailureClass::reference_unavailable);
}

// Sets an environment variable for one scope.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const std::string& value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        ::setenv(name, value.c_str(), 1);
    }
    ~ScopedEnv() {
        if (old_)
            ::setenv(name_, old_->c_str(), 1);
        else
            ::unsetenv(name_);
    }

private:
    const char* name_;
    std::optional<std::string> old_;
};

TEST(LocatePeers, AWrongHfPathIsUnavailableAndSaysHowToInstall) {
    ScopedEnv env("GGUF_CROSSVAL_HF_GGUF", "/nonexistent/@huggingface/gguf");
    const auto p = locate_hf_gguf();
    EXPECT_FALSE(p.available);
    EXPECT_NE(p.why_unavailable.find("/nonexistent/@huggingface/gguf"), std::string::npos) << p.why_unavailable;
    EXPECT_NE(p.why_unavailable.find("scripts/fetch-peers"), std::string::npos) << p.why_unavailable;
}

TEST(LocatePeers, AnotherVersionOfTheHfPackageIsUnavailable) {
    const auto dir = testing_support::scratch_dir("peers_hf_version");
    std::ofstream(dir / "package.json") << R"({"name": "@huggingface/gguf", "version": "0.4.5"})";
    ScopedEnv env("GGUF_CROSSVAL_HF_GGUF", dir.string());
    const auto p = locate_hf_gguf();
    EXPECT_FALSE(p.available);
    EXPECT_NE(p.why_unavailable.find("0.4.5"), std::string::npos) << p.why_unavailable;
    EXPECT_NE(p.why_unavailable.find(std::string(kHfGgufVersion)), std::string::npos) << p.why_unavailable;
    fs::remove_all(dir);
}

TEST(LocatePeers, AWrongGgufPyPathIsUnavailableAndSaysHowToInstall) {
    const auto dir = testing_support::scratch_dir("peers_gguf_py_empty");
    ScopedEnv env("GGUF_CROSSVAL_GGUF_PY", dir.string());
    const auto p = locate_gguf_py();
    EXPECT_FALSE(p.available);
    EXPECT_NE(p.why_unavailable.find("gguf_reader.py"), std::string::npos) << p.why_unavailable;
    EXPECT_NE(p.why_unavailable.find("scripts/fetch-peers"), std::string::npos) << p.why_unavailable;
    fs::remove_all(dir);
}

// The probe's form of a header with one KV, as the peers print it.
json header_payload(json kv) {
    return {{"ok", true},
            {"version", 3},
            {"n_kv", 1},
            {"n_tensors", 0},
            {"alignment", 32},
            {"data_offset", 0},
            {"kv", json::array({kv})},
            {"tensors", json::array()}};
}

TEST(DescriptionFromHeader, ReadsAnArrayOfArraysAsOurReaderDescribesIt) {
    // [[1, 65536], [7]] as arrays of uint32, built with our writer and read by our reader.
    std::vector<Value> inner{Value::array(ValueType::uint32, {Value::u32(1), Value::u32(65536)}),
                             Value::array(ValueType::uint32, {Value::u32(7)})};
    gguf::Writer w;
    w.add("test.nested", Value::array(ValueType::array, inner));
    const auto bytes = w.to_bytes();
    const auto file = testing_support::must_parse(bytes);
    const auto ours = describe::describe_kv(file.kvs()[0].key, file.kvs()[0].value);

    const json kv{
        {"key_hex", "746573742e6e6573746564"},  // "test.nested"
        {"type", 9},
        {"elem_type", 9},
        {"n", 2},
        {"values",
         {{{"elem_type", 4}, {"n", 2}, {"values", {1, 65536}}}, {{"elem_type", 4}, {"n", 1}, {"values", {7}}}}}};
    const auto theirs = description_from_header(header_payload(kv));
    ASSERT_TRUE(theirs) << theirs.error().message;
    ASSERT_EQ(theirs->kv.size(), 1u);
    EXPECT_EQ(theirs->kv[0].key, ours.key);
    EXPECT_EQ(theirs->kv[0].type, ours.type);
    EXPECT_EQ(theirs->kv[0].value, ours.value);
    EXPECT_EQ(theirs->kv[0].digest, ours.digest);
}

TEST(DescriptionFromHeader, AnInnerArrayWithoutItsElementTypeIsAnError) {
    // @huggingface/gguf returns nested arrays without the inner element type: not guessed here.
    const json kv{{"key_hex", "6b"},
                  {"type", 9},
                  {"elem_type", 9},
                  {"n", 1},
                  {"values", {{{"elem_type", nullptr}, {"n", 1}, {"values", {7}}}}}};
    const auto theirs = description_from_header(header_payload(kv));
    ASSERT_FALSE(theirs);
    EXPECT_NE(theirs.error().message.find("kv 0"), std::string::npos) << theirs.error().message;
}

}  // namespace
}  // namespace gguf::reference
