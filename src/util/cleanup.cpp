#include "cleanup.hpp"

#include <unistd.h>
#include <array>
#include <atomic>
#include <csignal>
#include <cstring>

namespace gguf::util {
namespace {

// Fixed slots, so that the signal handler reads them without locks or allocation. A slot is
// claimed (busy), filled, then published (ready); the handler only acts on ready slots.
constexpr int kSlots = 128;
enum State : int { kFree = 0, kBusy = 1, kReady = 2 };

struct PathSlot {
    std::atomic<int> state{kFree};
    char path[4096];
};
struct GroupSlot {
    std::atomic<int> state{kFree};
    pid_t pgid = 0;
};

std::array<PathSlot, kSlots> g_paths;
std::array<GroupSlot, kSlots> g_groups;

template <class Slots>
int claim(Slots& slots) {
    for (int i = 0; i < kSlots; ++i) {
        int expected = kFree;
        if (slots[i].state.compare_exchange_strong(expected, kBusy)) return i;
    }
    return -1;  // all in use: the caller still cleans up in the normal course, only not on a signal
}

void on_signal(int sig) {
    for (auto& g : g_groups) {
        if (g.state.load() == kReady) ::kill(-g.pgid, SIGKILL);
    }
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
    slot_ = claim(g_paths);
    if (slot_ < 0) return;
    std::memcpy(g_paths[slot_].path, s.c_str(), s.size() + 1);
    g_paths[slot_].state.store(kReady);
}

TempFileGuard::~TempFileGuard() {
    if (path_.empty()) return;
    ::unlink(path_.c_str());
    release();
}

void TempFileGuard::release() {
    if (slot_ >= 0) g_paths[slot_].state.store(kFree);
    slot_ = -1;
    path_.clear();
}

ChildGroupGuard::ChildGroupGuard(pid_t pgid) {
    slot_ = claim(g_groups);
    if (slot_ < 0) return;
    g_groups[slot_].pgid = pgid;
    g_groups[slot_].state.store(kReady);
}

ChildGroupGuard::~ChildGroupGuard() {
    if (slot_ >= 0) g_groups[slot_].state.store(kFree);
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
