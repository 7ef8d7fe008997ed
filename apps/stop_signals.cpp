// Stop signals of the long-running commands (apps/stop_signals.hpp).
#include "apps/stop_signals.hpp"

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace spikechip::cli {
namespace {

constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP};

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};
// The line printed on the first signal, built before the handlers are installed (a handler may
// only call async-signal-safe functions: write, signal, raise).
char g_line[3][256];
size_t g_line_len[3];

const char* name_of(int sig) { return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "SIGHUP"; }

int index_of(int sig) { return sig == SIGINT ? 0 : sig == SIGTERM ? 1 : 2; }

extern "C" void on_stop_signal(int sig) {
  int none = 0;
  if (!g_signal.compare_exchange_strong(none, sig)) {  // the second: quit at once
    std::signal(sig, SIG_DFL);
    std::raise(sig);  // delivered when this handler returns (the signal is blocked inside it)
    return;
  }
  g_stop.store(true);
  const int i = index_of(sig);
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, g_line[i], g_line_len[i]);
}

}  // namespace

void catch_stop_signals(const char* what) {
  for (int sig : kStopSignals) {
    const int i = index_of(sig);
    const int n = std::snprintf(g_line[i], sizeof g_line[i], "\nspikechip: %s received: %s; send it again to quit at once\n",
                                name_of(sig), what);
    g_line_len[i] = n < 0 ? 0 : std::min(size_t(n), sizeof g_line[i] - 1);
    struct sigaction old {};
    if (sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;  // ignored by whoever started us
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    for (int other : kStopSignals) sigaddset(&sa.sa_mask, other);
    sigaction(sig, &sa, nullptr);
  }
}

const std::atomic<bool>& stop_requested() { return g_stop; }

int stop_signal() { return g_signal.load(); }

std::string stop_reason() {
  const int sig = g_signal.load();
  return sig ? std::string("interrupted (") + name_of(sig) + ")" : std::string("interrupted");
}

void die_of_stop_signal() {
  const int sig = g_signal.load() ? g_signal.load() : SIGINT;
  std::cout.flush(), std::cerr.flush();
  std::signal(sig, SIG_DFL);
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, sig);
  sigprocmask(SIG_UNBLOCK, &s, nullptr);
  std::raise(sig);
  std::_Exit(128 + sig);  // not reached unless the signal is blocked elsewhere
}

}  // namespace spikechip::cli
