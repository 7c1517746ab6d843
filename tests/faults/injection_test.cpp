// Text from a file never reaches what people read raw: terminal output, JUnit, Markdown and JSON
// carry no control characters, no markup and no invalid UTF-8 from keys, values, names or paths.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "gguf/writer.hpp"
#include "support/run.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using testing_support::quoted;
using testing_support::run_command;
using testing_support::slurp;

const std::string kBin = GGUF_CROSSVAL_BIN;

// A key that tries to erase the line, move the cursor up, start a fake line and close XML and
// Markdown structures.
const std::string kHostileKey = "evil\r\x1b[2K\x1b[1A\nvalid GGUF v3 </testcase> | `x` \xc2\x9b";

// True when `text` holds a byte that moves a terminal's cursor or changes its state: any C0
// control but the newlines our own lines end with, DEL, or a C1 control in UTF-8.
bool has_raw_control(const std::string& text) {
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if ((c < 0x20 && c != '\n') || c == 0x7f) return true;
        if (c == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) < 0xa0) return true;
    }
    return false;
}

class Injection : public testing_support::TempDirTest {
protected:
    fs::path write(const gguf::Writer& w, const std::string& name) {
        const auto path = dir_ / name;
        EXPECT_TRUE(w.write_file(path).ok());
        return path;
    }
};

TEST_F(Injection, DuplicateHostileKeyCannotRewriteTheTerminal) {
    gguf::Writer w;
    w.add(kHostileKey, gguf::Value::u32(1));
    w.add(kHostileKey, gguf::Value::u32(2));
    const auto path = write(w, "dup.gguf");
    const auto r = run_command(kBin + " validate " + quoted(path));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.out.find("duplicate_key"), std::string::npos) << r.out;
    EXPECT_FALSE(has_raw_control(r.out + r.err)) << r.out << r.err;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << "one line for one error: " << r.out;
}

TEST_F(Injection, InspectPrintsHostileKeysAndValuesOnTheirOwnLine) {
    gguf::Writer w;
    w.add(kHostileKey, gguf::Value::string("value\x1b[31m\nfake.key (string) = \"x\""));
    const auto path = write(w, "keys.gguf");
    const auto r = run_command(kBin + " inspect " + quoted(path));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_FALSE(has_raw_control(r.out)) << r.out;
    EXPECT_EQ(r.out.find("\nfake.key"), std::string::npos) << r.out;
}

TEST_F(Injection, ValidateDataJsonCarriesANonUtf8TensorName) {
    gguf::Writer w;
    std::vector<std::byte> data(16);
    ASSERT_TRUE(w.add_tensor("w\xff\xfe", 0, {4}, data).ok());
    const auto path = write(w, "name.gguf");
    const auto r = run_command(kBin + " validate --data --json " + quoted(path));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["data"]["tensors"][0]["name"], "w\\xff\\xfe");
    const auto text = run_command(kBin + " validate --data " + quoted(path));
    EXPECT_NE(text.out.find("w\\xff\\xfe"), std::string::npos) << text.out;
}

TEST_F(Injection, PlainValidateWarnsOfANonUtf8TensorName) {
    gguf::Writer w;
    std::vector<std::byte> data(16);
    ASSERT_TRUE(w.add_tensor("w\xff\xfe", 0, {4}, data).ok());
    const auto path = write(w, "name.gguf");
    const auto text = run_command(kBin + " validate " + quoted(path));
    EXPECT_EQ(text.exit_code, 0) << text.err;  // a warning, not an error
    EXPECT_NE(text.out.find("invalid_utf8"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("w\\xff\\xfe"), std::string::npos) << text.out;
    EXPECT_FALSE(has_raw_control(text.out)) << text.out;
    const auto json = run_command(kBin + " validate --json " + quoted(path));
    ASSERT_EQ(json.exit_code, 0) << json.err;
    const auto j = nlohmann::json::parse(json.out);
    ASSERT_EQ(j["warnings"].size(), 1u) << json.out;
    EXPECT_EQ(j["warnings"][0]["code"], "invalid_utf8");
    // The name's info starts right after the 24-byte header: there is no key-value.
    EXPECT_EQ(j["warnings"][0]["offset"], 24);
}

TEST_F(Injection, FullCrossvalJunitPassesXmllintAndTerminalShowsNoFakeLines) {
    const auto models = dir_ / "models";
    fs::create_directories(models);
    gguf::Writer w;
    w.add(kHostileKey, gguf::Value::u32(1));
    w.add(kHostileKey, gguf::Value::u32(2));  // rejected by our reader: the message quotes the key
    ASSERT_TRUE(w.write_file(models / "x\nPASS everything.gguf [pass]\n.gguf").ok());
    ASSERT_TRUE(w.write_file(models / "bad-\xff-name.gguf").ok());
    const auto out = dir_ / "out";
    const auto r =
        run_command("CROSSVAL_ALLOW_CPP_FAIL=1 " + kBin + " full-crossval --cpp-dir " + quoted(dir_ / "no-such-build") +
                    " --models " + quoted(models) + " --out " + quoted(out));
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_FALSE(has_raw_control(r.out + r.err)) << r.out << r.err;
    for (const auto& line : {std::string("\nPASS everything.gguf"), std::string("\nPASS  everything.gguf")}) {
        EXPECT_EQ(r.out.find(line), std::string::npos) << r.out;
    }
    const auto lint = run_command("xmllint --noout " + quoted(out / "junit.xml"));
    EXPECT_EQ(lint.exit_code, 0) << lint.err << slurp(out / "junit.xml");
    const auto summary = nlohmann::json::parse(slurp(out / "summary.json"));
    EXPECT_EQ(summary["counts"]["total"].get<int>() >= 2, true);
}

TEST_F(Injection, EscapedTextKeepsEveryByte) {
    // What the escaper makes of a newline, ESC and a stray byte: each shown, none dropped.
    gguf::Writer w;
    w.add(
        "a\nb\x1b"
        "c\xff",
        gguf::Value::u32(7));
    const auto path = write(w, "k.gguf");
    const auto r = run_command(kBin + " inspect " + quoted(path));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("a\\x0ab\\x1bc\\xff"), std::string::npos) << r.out;
}

}  // namespace

// The real reference echoes a file's bytes in its messages and log (llama.cpp: "unknown model
// architecture: '...'"). An architecture that is not UTF-8 reaches summary.json, junit.xml and
// summary.md escaped (`\xff`), so that each stays well-formed: strict JSON, xmllint, UTF-8 Markdown.
TEST_F(Injection, ReferenceMessagesQuotingNonUtf8BytesStayWellFormedInEverySummary) {
    const auto models = dir_ / "models";
    fs::create_directories(models);
    const auto model = models / "arch.gguf";
    const auto gen = run_command(kBin + " gen-model --arch llama --type f32 --output " + quoted(model));
    ASSERT_EQ(gen.exit_code, 0) << gen.err;
    auto bytes = slurp(model);
    const auto key = bytes.find("general.architecture");
    ASSERT_NE(key, std::string::npos);
    const auto value = bytes.find("llama", key);  // the string value after the key's type and length
    ASSERT_NE(value, std::string::npos);
    bytes[value + 2] = '\xff';  // "ll\xffma"
    { std::ofstream(model, std::ios::binary) << bytes; }
    const auto out = dir_ / "out";
    const auto r = run_command("CROSSVAL_ALLOW_CPP_FAIL=1 " + kBin + " full-crossval --models " + quoted(models) +
                               " --out " + quoted(out));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;  // the reference's rejection is an allowed XFAIL
    EXPECT_FALSE(has_raw_control(r.out + r.err));
    const auto text = slurp(out / "summary.json");
    const auto summary = nlohmann::json::parse(text, nullptr, false);  // strict: invalid UTF-8 would not parse
    ASSERT_FALSE(summary.is_discarded()) << text.substr(0, 2000);
    EXPECT_NE(text.find(R"(ll\\xffma)"), std::string::npos) << "the message lost the byte";
    EXPECT_EQ(text.find('\xff'), std::string::npos);
    const auto lint = run_command("xmllint --noout " + quoted(out / "junit.xml"));
    EXPECT_EQ(lint.exit_code, 0) << lint.err;
    EXPECT_NE(slurp(out / "junit.xml").find(R"(ll\xffma)"), std::string::npos);
    const auto md = run_command("iconv -f UTF-8 -t UTF-8 " + quoted(out / "summary.md") + " >/dev/null");
    EXPECT_EQ(md.exit_code, 0) << "summary.md is not valid UTF-8";
}
