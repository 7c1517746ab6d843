// is_valid_utf8 against the Unicode Standard's table of well-formed byte sequences (Table 3-7),
// written out here as plainly as possible, over every string of up to three bytes and a dense
// sample of four-byte ones, alone and embedded in ASCII of every length around the 8-byte fast path.
#include <gtest/gtest.h>
#include <cstdint>
#include <iterator>
#include <string>

#include "gguf/value.hpp"

namespace {

// Table 3-7: the well-formed sequences, as ranges of each byte.
struct Row {
    int n;
    unsigned lo[4];
    unsigned hi[4];
};
constexpr Row kTable[] = {
    {1, {0x00}, {0x7F}},
    {2, {0xC2, 0x80}, {0xDF, 0xBF}},
    {3, {0xE0, 0xA0, 0x80}, {0xE0, 0xBF, 0xBF}},
    {3, {0xE1, 0x80, 0x80}, {0xEC, 0xBF, 0xBF}},
    {3, {0xED, 0x80, 0x80}, {0xED, 0x9F, 0xBF}},
    {3, {0xEE, 0x80, 0x80}, {0xEF, 0xBF, 0xBF}},
    {4, {0xF0, 0x90, 0x80, 0x80}, {0xF0, 0xBF, 0xBF, 0xBF}},
    {4, {0xF1, 0x80, 0x80, 0x80}, {0xF3, 0xBF, 0xBF, 0xBF}},
    {4, {0xF4, 0x80, 0x80, 0x80}, {0xF4, 0x8F, 0xBF, 0xBF}},
};

// Does a table row match the bytes at s[i..]?
int match(const std::string& s, std::size_t i) {
    for (const auto& r : kTable) {
        if (i + static_cast<std::size_t>(r.n) > s.size()) continue;
        bool ok = true;
        for (int k = 0; k < r.n && ok; ++k) {
            const auto b = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
            ok = b >= r.lo[k] && b <= r.hi[k];
        }
        if (ok) return r.n;
    }
    return 0;
}

bool reference(const std::string& s) {
    for (std::size_t i = 0; i < s.size();) {
        const int n = match(s, i);
        if (n == 0) return false;
        i += static_cast<std::size_t>(n);
    }
    return true;
}

// A xorshift generator: the same sequence from the same seed, every run.
struct Xorshift {
    std::uint64_t x;
    std::uint64_t operator()() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return x;
    }
};

void expect_same(const std::string& s) {
    ASSERT_EQ(gguf::is_valid_utf8(s), reference(s)) << testing::PrintToString(s);
}

}  // namespace

TEST(Utf8, EveryStringOfUpToTwoBytes) {
    expect_same("");
    for (unsigned a = 0; a < 256; ++a) {
        expect_same(std::string(1, static_cast<char>(a)));
        for (unsigned b = 0; b < 256; ++b) expect_same({static_cast<char>(a), static_cast<char>(b)});
    }
}

TEST(Utf8, EveryStringOfThreeBytes) {
    std::string s(3, '\0');
    for (unsigned a = 0; a < 256; ++a) {
        for (unsigned b = 0; b < 256; ++b) {
            for (unsigned c = 0; c < 256; ++c) {
                s[0] = static_cast<char>(a);
                s[1] = static_cast<char>(b);
                s[2] = static_cast<char>(c);
                const bool got = gguf::is_valid_utf8(s);
                if (got != reference(s)) FAIL() << a << " " << b << " " << c;
            }
        }
    }
}

TEST(Utf8, FourByteStringsAtEveryBoundary) {
    // Each byte takes the values at and around every range edge of the table.
    const unsigned edges[] = {0x00, 0x41, 0x7F, 0x80, 0x81, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2,
                              0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF};
    for (unsigned a : edges) {
        for (unsigned b : edges) {
            for (unsigned c : edges) {
                for (unsigned d : edges) {
                    expect_same(
                        {static_cast<char>(a), static_cast<char>(b), static_cast<char>(c), static_cast<char>(d)});
                }
            }
        }
    }
}

TEST(Utf8, SequencesInsideAsciiAtEveryPosition) {
    const std::string seqs[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                "\xe2\x82", "\x80",         "\xff"};
    for (const auto& seq : seqs) {
        for (std::size_t before = 0; before < 20; ++before) {
            for (std::size_t after = 0; after < 20; ++after) {
                expect_same(std::string(before, 'a') + seq + std::string(after, 'z'));
                expect_same(std::string(before, 'a') + seq + seq + std::string(after, 'z'));
            }
        }
    }
}

// The 32-byte blocks (AVX2 where the CPU has it): each sequence, valid or not, at every position of
// strings of 32 to 100 bytes, so that it sits inside a block, straddles two blocks or the two halves
// of one, or ends the string inside the zero-padded tail; ASCII and two-byte text around it.
TEST(Utf8, SequencesAtEveryPositionOfLongStrings) {
    const std::string seqs[] = {"\xc3\xa9",
                                "\xe2\x82\xac",
                                "\xf0\x9f\x98\x80",
                                "\xc0\xaf",
                                "\xc1\xbf",
                                "\xe0\x9f\xbf",
                                "\xe0\xa0\x80",
                                "\xed\x9f\xbf",
                                "\xed\xa0\x80",
                                "\xf0\x8f\xbf\xbf",
                                "\xf0\x90\x80\x80",
                                "\xf4\x8f\xbf\xbf",
                                "\xf4\x90\x80\x80",
                                "\xf5\x80\x80\x80",
                                "\xe2\x82",
                                "\xf0\x9f\x98",
                                "\xc3",
                                "\x80",
                                "\xbf",
                                "\xc3\xa9\x80",
                                "\xff",
                                "\xfe"};
    const std::string fillers[] = {"a", "\xc4\xa0"};  // ASCII, and U+0120 as in GPT-2 vocabularies
    for (const auto& filler : fillers) {
        for (std::size_t len = 32; len <= 100; ++len) {
            for (const auto& seq : seqs) {
                for (std::size_t at = 0; at + seq.size() <= len; ++at) {
                    std::string s;
                    while (s.size() < at) s += s.size() + filler.size() <= at ? filler : "b";
                    s += seq;
                    while (s.size() < len) s += s.size() + filler.size() <= len ? filler : "z";
                    expect_same(s);
                }
            }
        }
    }
}

// The 32-byte path judges a byte by the one before it and, for continuations, the three before it:
// every pair of bytes, and the four-byte edges above, inside 64 bytes of ASCII, where a block starts,
// in the middle of a block, across the halves of one and across two blocks.
std::string inside_ascii(const std::string& seq, std::size_t at) {
    std::string s(64, 'a');
    s.replace(at, seq.size(), seq);
    return s;
}

TEST(Utf8, EveryPairOfBytesInsideLongStrings) {
    for (unsigned a = 0; a < 256; ++a) {
        for (unsigned b = 0; b < 256; ++b) {
            const std::string pair{static_cast<char>(a), static_cast<char>(b)};
            for (std::size_t at : {0u, 7u, 15u, 16u, 31u, 62u}) {
                const auto s = inside_ascii(pair, at);
                if (gguf::is_valid_utf8(s) != reference(s)) FAIL() << a << " " << b << " at " << at;
            }
        }
    }
}

TEST(Utf8, FourByteEdgesInsideLongStrings) {
    const unsigned edges[] = {0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF,
                              0xE0, 0xE1, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xF8, 0xFF};
    for (unsigned a : edges) {
        for (unsigned b : edges) {
            for (unsigned c : edges) {
                for (unsigned d : edges) {
                    const std::string seq{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c),
                                          static_cast<char>(d)};
                    for (std::size_t at : {0u, 14u, 29u, 60u}) {
                        const auto s = inside_ascii(seq, at);
                        if (gguf::is_valid_utf8(s) != reference(s)) FAIL() << a << " " << b << " " << c << " " << d;
                    }
                }
            }
        }
    }
}

TEST(Utf8, RandomMixturesOfValidAndBrokenText) {
    const std::string pieces[] = {"a",
                                  "Z",
                                  "\xc4\xa0",
                                  "\xc3\xa9",
                                  "\xe2\x82\xac",
                                  "\xe4\xb8\xad",
                                  "\xf0\x9f\x98\x80",
                                  "\xed\x9f\xbf",
                                  "\xf4\x8f\xbf\xbf",
                                  "\xee\x80\x80"};
    Xorshift next{0x9E3779B97F4A7C15ULL};  // the same strings every run
    for (int round = 0; round < 20000; ++round) {
        std::string s;
        const auto len = 32 + next() % 300;
        while (s.size() < len) s += pieces[next() % std::size(pieces)];
        expect_same(s);
        s[next() % s.size()] = static_cast<char>(next() & 0xFF);  // one byte replaced: often invalid
        expect_same(s);
    }
}

// ---- string arrays in a file: the reader checks runs of elements at a time --------------------

#include "gguf/reader.hpp"
#include "gguf/writer.hpp"

namespace {

// One KV "k" holding a string array: its elements start at 24 + 8 + 1 (key) + 4 (type) + 4 (element
// type) + 8 (count) = 49, each as an 8-byte length and its bytes.
constexpr std::uint64_t kFirstElement = 49;

std::uint64_t element_offset(const std::vector<std::string>& items, std::size_t i) {
    std::uint64_t at = kFirstElement;
    for (std::size_t k = 0; k < i; ++k) at += 8 + items[k].size();
    return at;
}

// The invalid_utf8 warnings of a file holding `items` as the string array "k".
std::vector<gguf::Issue> utf8_warnings(const std::vector<std::string>& items, bool big_endian = false) {
    gguf::Writer w(gguf::WriterOptions{3, big_endian});
    w.add("k", gguf::Value::strings(items));
    const auto bytes = w.to_bytes();
    auto f = gguf::parse(gguf::Bytes(bytes.data(), bytes.size()));
    EXPECT_TRUE(f.ok());
    std::vector<gguf::Issue> out;
    if (!f) return out;
    for (const auto& issue : f->warnings()) {
        if (issue.code == gguf::Code::invalid_utf8) out.push_back(issue);
    }
    return out;
}

void expect_warning_at(const std::vector<std::string>& items, std::size_t bad, bool big_endian = false) {
    const auto w = utf8_warnings(items, big_endian);
    ASSERT_EQ(w.size(), 1u);
    EXPECT_EQ(w[0].offset, element_offset(items, bad));
    EXPECT_EQ(w[0].message, "element " + std::to_string(bad) + " of 'k' is not valid UTF-8");
}

}  // namespace

TEST(Utf8InArrays, ValidElementsGiveNoWarning) {
    const std::string long_one = std::string(200, 'x') + "\xc3\xa9";
    EXPECT_TRUE(utf8_warnings({"ab", "\xc4\xa0the", long_one, "", "\xf0\x9f\x98\x80", long_one}).empty());
}

TEST(Utf8InArrays, SequenceSplitAcrossTwoElementsIsInvalid) {
    // "ab" + "\xc3" + "\xa9cd" would be valid UTF-8 if the elements were joined: each is checked alone.
    expect_warning_at({"ab", "\xc3",
                       "\xa9"
                       "cd"},
                      1);
    expect_warning_at({"ab", "\xc3",
                       "\xa9"
                       "cd"},
                      1, true);  // big-endian lengths
}

TEST(Utf8InArrays, FirstInvalidElementIsNamedOnce) {
    expect_warning_at({"ok", "fine", "\xff", "\xfe"}, 2);
}

TEST(Utf8InArrays, InvalidElementsAroundLongOnes) {
    const std::string long_ok = std::string(127, 'y') + "\xc3\xa9";  // 129 bytes
    const std::string long_bad = std::string(150, 'z') + "\xc3";     // cut at the end
    expect_warning_at({long_ok, "a", "\xed\xa0\x80", long_ok}, 2);
    expect_warning_at({"a", long_ok, long_bad, "\xff"}, 2);
    expect_warning_at({"a", long_ok, "b", "c\xc3", long_ok}, 3);
    // A length of 169 encodes as A9 00 ..: it must not complete the C3 before it into a valid "é".
    expect_warning_at({"a", "\xc3", std::string(169, 'q')}, 1);
    // 127 bytes: still in a run; the sequence is cut by the next length field.
    expect_warning_at({std::string(126, 'w') + "\xe2", "\x82\xac"}, 0);
}

// Long arrays of random elements, most short, some of 128 bytes or more, one element sometimes
// broken: the reader names exactly the first element that the Table 3-7 reference rejects, in
// either byte order. With AVX2 the check of a run advances 32 bytes per element behind the walk
// and finishes at the run's end; these arrays make runs of every length and blocks of every phase.
TEST(Utf8InArrays, RandomArraysNameTheFirstInvalidElement) {
    const std::string pieces[] = {"a", "Z", " ", "\xc4\xa0", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
    Xorshift next{0x2545F4914F6CDD1DULL};  // the same arrays every run
    for (int round = 0; round < 3000; ++round) {
        std::vector<std::string> items(1 + next() % 400);
        for (auto& item : items) {
            const auto len = next() % 16 == 0 ? 120 + next() % 40 : next() % 24;
            while (item.size() < len) item += pieces[next() % std::size(pieces)];
        }
        if (round % 3 != 0) {
            auto& victim = items[next() % items.size()];
            if (victim.empty()) victim = "v";
            if (round % 3 == 1) {
                victim[next() % victim.size()] = static_cast<char>(0x80 + next() % 0x80);  // often invalid
            } else {
                victim += "\xe2\x82";  // a sequence cut by the element's end
            }
        }
        std::size_t first_bad = items.size();
        for (std::size_t i = 0; i < items.size() && first_bad == items.size(); ++i) {
            if (!reference(items[i])) first_bad = i;
        }
        for (const bool big_endian : {false, true}) {
            const auto w = utf8_warnings(items, big_endian);
            if (first_bad == items.size()) {
                ASSERT_TRUE(w.empty()) << "round " << round << ": " << w[0].message;
            } else {
                ASSERT_EQ(w.size(), 1u) << "round " << round;
                EXPECT_EQ(w[0].offset, element_offset(items, first_bad)) << "round " << round;
            }
        }
    }
}

// A sequence cut by its element's end, at every phase of the 32-byte blocks of a long run: the
// byte after it (the next length field) is where it fails, at every position of a block.
TEST(Utf8InArrays, CutSequenceAtEveryPhaseOfALongRun) {
    for (std::size_t pad = 0; pad < 64; ++pad) {
        for (const std::string& cut : {std::string("\xe2\x82"), std::string("\xf0\x9f\x98"), std::string("\xc3")}) {
            std::vector<std::string> items(40, "a\xc4\xa0");
            items[0] = std::string(pad, 'p');
            items[20] = "q" + cut;
            expect_warning_at(items, 20);
            expect_warning_at(items, 20, true);
        }
    }
}

// ---- which code runs ----------------------------------------------------------------------------

#include <cstdlib>

#include "gguf/utf8_avx2.hpp"

#ifdef GGUF_UTF8_AVX2
// AVX2 is used exactly when the CPU has it (as libgcc's own probe says) and GGUF_CROSSVAL_NO_AVX2
// does not turn it off: the run of these tests with it set covers the portable code.
TEST(Utf8, Avx2IsUsedWhenTheCpuHasItUnlessTurnedOff) {
    const char* no = std::getenv("GGUF_CROSSVAL_NO_AVX2");
    const bool off = no != nullptr && *no != '\0' && *no != '0';
    EXPECT_EQ(gguf::utf8::cpu_has_avx2(), !off && __builtin_cpu_supports("avx2"));
}
#endif
