#include "regcache/util/interrupt.hpp"

#include <signal.h>

#include <atomic>
#include <thread>

namespace regcache {

namespace {

std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free,
              "a signal handler may only touch lock-free atomics");

void on_signal(int sig) {
  int none = 0;
  g_signal.compare_exchange_strong(none, sig);  // the first one decides the exit status
}

}  // namespace

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

int interrupt_signal() {
  return g_signal.load();
}

Status check_interrupted() {
  int sig = g_signal.load();
  if (sig == 0) return {};
  return make_error(ErrorKind::interrupted,
                    std::string("interrupted by ") + (sig == SIGINT ? "SIGINT" : "SIGTERM"));
}

Status sleep_until_or_interrupted(std::chrono::steady_clock::time_point when) {
  for (;;) {
    RC_CHECK(check_interrupted());
    auto now = std::chrono::steady_clock::now();
    if (now >= when) return {};
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(when - now, std::chrono::milliseconds(50)));
  }
}

}  // namespace regcache
