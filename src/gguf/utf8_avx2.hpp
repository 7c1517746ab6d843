// UTF-8 validation 32 bytes at a time with AVX2 (internal): the block kernel that value.cpp's
// is_valid_utf8 and the reader's string-array walk share. Only on x86-64 with GCC or Clang, where
// GGUF_UTF8_AVX2 is defined; callers check cpu_has_avx2() before running any of it.
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GGUF_UTF8_AVX2 1
#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace gguf::utf8 {

// Can AVX2 run here (asked of the CPU once, on first use).
bool cpu_has_avx2();

// The same rules, 32 bytes at a time with AVX2, by three table look-ups per block (the method of
// Keiser and Lemire, "Validating UTF-8 in less than one instruction per byte", 2021). Every error
// shows in a pair of adjacent bytes, or in a byte that the one to three bytes before it require to be
// a continuation. For each byte, three 16-entry tables map the high nibble of the byte before it, the
// low nibble of the byte before it and the high nibble of the byte itself to a set of error kinds
// that pair could be; a kind present in all three is an error. The kinds:
inline constexpr unsigned char kTooShort = 1 << 0;   // a lead byte followed by a lead or ASCII
inline constexpr unsigned char kTooLong = 1 << 1;    // ASCII followed by a continuation
inline constexpr unsigned char kOverlong3 = 1 << 2;  // E0 80..9F
inline constexpr unsigned char kTooLarge = 1 << 3;   // F4 90..BF, or F5..FF 90..BF
inline constexpr unsigned char kSurrogate = 1 << 4;  // ED A0..BF
inline constexpr unsigned char kOverlong2 = 1 << 5;  // C0 or C1, then a continuation
inline constexpr unsigned char kBig8x = 1 << 6;      // F0 80..8F (overlong), or F5..FF 80..8F (too large)
inline constexpr unsigned char kTwoConts = 1 << 7;   // a continuation followed by a continuation
inline constexpr unsigned char kCarry = kTooShort | kTooLong | kTwoConts;  // kinds the low nibble cannot rule out

// clang-format off
// Indexed by the high nibble of the byte before.
inline constexpr unsigned char kBefore[16] = {
    kTooLong, kTooLong, kTooLong, kTooLong, kTooLong, kTooLong, kTooLong, kTooLong,  // 00..7F: ASCII
    kTwoConts, kTwoConts, kTwoConts, kTwoConts,                                      // 80..BF: continuations
    kTooShort | kOverlong2,                                                          // C0..CF
    kTooShort,                                                                       // D0..DF
    kTooShort | kOverlong3 | kSurrogate,                                             // E0..EF
    kTooShort | kTooLarge | kBig8x,                                                  // F0..FF
};
// Indexed by the low nibble of the byte before.
inline constexpr unsigned char kBeforeLow[16] = {
    kCarry | kOverlong2 | kOverlong3 | kBig8x,  // x0: C0, E0, F0
    kCarry | kOverlong2,                        // x1: C1
    kCarry, kCarry,                             // x2, x3
    kCarry | kTooLarge,                         // x4: F4
    kCarry | kTooLarge | kBig8x, kCarry | kTooLarge | kBig8x, kCarry | kTooLarge | kBig8x,  // x5..x7: F5..F7
    kCarry | kTooLarge | kBig8x, kCarry | kTooLarge | kBig8x, kCarry | kTooLarge | kBig8x,  // x8..xA
    kCarry | kTooLarge | kBig8x, kCarry | kTooLarge | kBig8x,                               // xB, xC
    kCarry | kTooLarge | kBig8x | kSurrogate,                                               // xD: ED, FD
    kCarry | kTooLarge | kBig8x, kCarry | kTooLarge | kBig8x,                               // xE, xF
};
// Indexed by the high nibble of the byte itself.
inline constexpr unsigned char kThis[16] = {
    kTooShort, kTooShort, kTooShort, kTooShort, kTooShort, kTooShort, kTooShort, kTooShort,  // 00..7F: ASCII
    kTooLong | kTwoConts | kOverlong2 | kOverlong3 | kBig8x,                                  // 80..8F
    kTooLong | kTwoConts | kOverlong2 | kOverlong3 | kTooLarge,                               // 90..9F
    kTooLong | kTwoConts | kOverlong2 | kSurrogate | kTooLarge,                               // A0..AF
    kTooLong | kTwoConts | kOverlong2 | kSurrogate | kTooLarge,                               // B0..BF
    kTooShort, kTooShort, kTooShort, kTooShort,                                               // C0..FF: leads
};
// clang-format on
// A continuation after a continuation (kTwoConts) is right exactly where the byte two before leads
// a three- or four-byte sequence or the byte three before a four-byte one: there the two cancel, and
// where a continuation is so required but missing, the requirement alone is the error.

__attribute__((target("avx2"))) inline __m256i table16(const unsigned char (&t)[16]) {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t)));
}

__attribute__((target("avx2"))) inline __m256i utf8_block_errors(__m256i cur, __m256i prev) {
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    const __m256i straddle = _mm256_permute2x128_si256(prev, cur, 0x21);
    const __m256i prev1 = _mm256_alignr_epi8(cur, straddle, 15);
    const __m256i prev2 = _mm256_alignr_epi8(cur, straddle, 14);
    const __m256i prev3 = _mm256_alignr_epi8(cur, straddle, 13);
    const __m256i before = _mm256_shuffle_epi8(table16(kBefore), _mm256_and_si256(_mm256_srli_epi16(prev1, 4), nibble));
    const __m256i before_low = _mm256_shuffle_epi8(table16(kBeforeLow), _mm256_and_si256(prev1, nibble));
    const __m256i self = _mm256_shuffle_epi8(table16(kThis), _mm256_and_si256(_mm256_srli_epi16(cur, 4), nibble));
    const __m256i pairs = _mm256_and_si256(_mm256_and_si256(before, before_low), self);
    // Bit 7 set where prev2 >= E0 or prev3 >= F0 (saturating subtraction leaves 80 and above only there).
    const __m256i third = _mm256_subs_epu8(prev2, _mm256_set1_epi8(static_cast<char>(0xE0 - 0x80)));
    const __m256i fourth = _mm256_subs_epu8(prev3, _mm256_set1_epi8(static_cast<char>(0xF0 - 0x80)));
    const __m256i required =
        _mm256_and_si256(_mm256_or_si256(third, fourth), _mm256_set1_epi8(static_cast<char>(0x80)));
    return _mm256_xor_si256(pairs, required);
}

// Non-zero where the block's last bytes begin a sequence that needs bytes after the block.
__attribute__((target("avx2"))) inline __m256i utf8_incomplete(__m256i block) {
    const __m256i limits =
        _mm256_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                         -1, -1, -1, -1, -1, static_cast<char>(0xEF), static_cast<char>(0xDF), static_cast<char>(0xBF));
    return _mm256_subs_epu8(block, limits);
}

// The end of a range whose blocks up to `next` have been checked (their errors in err, the last of
// them in prev): check [next, to), the last block padded with zeros, and the end of the range.
// True if the whole range is valid UTF-8.
__attribute__((target("avx2"))) inline bool rest_valid(const unsigned char* base, std::uint64_t next, std::uint64_t to,
                                                       __m256i prev, __m256i err) {
    for (; next + 32 <= to; next += 32) {
        const __m256i cur = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(base + next));
        err = _mm256_or_si256(err, utf8_block_errors(cur, prev));
        prev = cur;
    }
    if (next < to) {
        alignas(32) unsigned char tail[32] = {};
        std::memcpy(tail, base + next, static_cast<std::size_t>(to - next));
        const __m256i cur = _mm256_load_si256(reinterpret_cast<const __m256i*>(tail));
        err = _mm256_or_si256(err, utf8_block_errors(cur, prev));
        prev = cur;
    }
    err = _mm256_or_si256(err, utf8_incomplete(prev));
    return _mm256_testz_si256(err, err) != 0;
}

}  // namespace gguf::utf8
#endif
