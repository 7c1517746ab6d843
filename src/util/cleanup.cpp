#include "cleanup.hpp"

#include <time.h>
#include <unistd.h>
#include <array>
#include <atomic>
#include <csignal>
#include <cstring>

namespace gguf::util {
namespace {

// Fixed slots, so that the signal handler reads them without locks or allocation. A slot is
// reserved (busy) before the thing exists, then published (ready) or freed; the handler acts on
// ready slots only, after busy ones have settled.
constexpr int kSlots = 128;
enum State : int { kFree = 0, kBusy = 1, kReady = 2 };

struct PathSlot {
    std::atomic<int> state{kFree};
    char path[4096] = {};
};
struct GroupSlot {
    std::atomic<int> state{kFree};
    pid_t pgid = 0;
};

// constinit: zero-initialized at compile time, so they lie in .bss untouched until used. A dynamic
// initializer would write every slot at start-up: 128 page faults (half a MiB) in every process.
constinit std::array<PathSlot, kSlots> g_paths{};
constinit std::array<GroupSlot, kSlots> g_groups{};
constinit std::atomic<bool> g_ending{false};

// Once the handler has begun the process is ending: a thread that would create something new
// frees its slot and waits for the end instead, so nothing is created that the handler misses.
[[noreturn]] void wait_for_the_end() {
    for (;;) ::pause();
}

template <class Slots>
int reserve(Slots& slots) {
    for (int i = 0; i < kSlots; ++i) {
        int expected = kFree;
        if (slots[i].state.compare_exchange_strong(expected, kBusy)) {
            if (g_ending.load()) {
                slots[i].state.store(kFree);
                wait_for_the_end();
            }
            return i;
        }
    }
    return -1;  // all in use: the caller still cleans up in the normal course, only not on a signal
}

// Waits, boundedly, for reservations in progress on other threads to become ready or free. The
// bound covers a reservation interrupted on this very thread, which cannot settle.
template <class Slots>
void settle(Slots& slots) {
    const timespec tick{0, 1'000'000};
    for (int waited = 0; waited < 2000; ++waited) {
        bool busy = false;
        for (auto& s : slots) busy = busy || s.state.load() == kBusy;
        if (!busy) return;
        ::nanosleep(&tick, nullptr);
    }
}

void on_signal(int sig) {
    g_ending.store(true);
    settle(g_groups);
    for (auto& g : g_groups) {
        if (g.state.load() == kReady) ::kill(-g.pgid, SIGKILL);
    }
    settle(g_paths);
    for (auto& p : g_paths) {
        if (p.state.load() == kReady) ::unlink(p.path);
    }
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

}  // namespace

TempFileGuard::TempFileGuard(std::filesystem::path path) : path_(std::move(path)) {
    const auto& s = path_.native();
    if (s.size() >= sizeof(PathSlot::path)) return;
    slot_ = reserve(g_paths);
    if (slot_ >= 0) std::memcpy(g_paths[slot_].path, s.c_str(), s.size() + 1);
}

TempFileGuard::~TempFileGuard() {
    if (exists_) ::unlink(path_.c_str());
    release();
}

void TempFileGuard::created() {
    exists_ = true;
    if (slot_ >= 0) g_paths[slot_].state.store(kReady);
}

void TempFileGuard::release() {
    if (slot_ >= 0) g_paths[slot_].state.store(kFree);
    slot_ = -1;
    exists_ = false;
}

ChildGroupGuard::ChildGroupGuard() : slot_(reserve(g_groups)) {}

ChildGroupGuard::~ChildGroupGuard() {
    release();
}

void ChildGroupGuard::started(pid_t pgid) {
    if (slot_ < 0) return;
    g_groups[slot_].pgid = pgid;
    g_groups[slot_].state.store(kReady);
}

void ChildGroupGuard::release() {
    if (slot_ >= 0) g_groups[slot_].state.store(kFree);
    slot_ = -1;
}

void install_signal_cleanup() {
    static std::atomic<bool> installed{false};
    if (installed.exchange(true)) return;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
}

}  // namespace gguf::util
