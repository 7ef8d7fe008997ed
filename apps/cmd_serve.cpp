// `spikechip serve`: the co-simulation server for PyTorch trainers (docs/cosim.md).
#include <csignal>
#include <iostream>

#include "apps/cli.hpp"
#include "cosim/server.hpp"

namespace spikechip::cli {
namespace {

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_signal(int) { g_stop = 1; }

void run_serve(const cosim::ServerOptions& o) {
  cosim::Server server(o);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // The one stdout line: scripts and tests read the actual endpoint (port '*' picks a free one).
  std::cout << "listening on " << server.endpoint() << std::endl;
  server.serve(&g_stop);
}

const RegisterCommand reg(80, [](CLI::App& app) {
  auto o = std::make_shared<cosim::ServerOptions>();
  CLI::App* s = app.add_subcommand("serve", "Co-simulation server: answer PyTorch trainers over ZeroMQ (docs/cosim.md)");
  s->add_option("--bind", o->bind, "ZeroMQ endpoint to bind; port * picks a free one, printed on stdout")
      ->capture_default_str();
  s->add_option("--chip", o->chip_path, "Chip configuration JSON every client starts with (set_chip changes it)");
  s->add_option("--workers", o->workers, "Worker threads: requests of different clients run concurrently")
      ->capture_default_str()->check(CLI::Range(1, 256));
  s->add_option("--exec-threads", o->exec_threads, "Threads of one golden run")->capture_default_str()->check(CLI::Range(1, 64));
  s->add_option("--timeout", o->timeout_s, "Per-request timeout in seconds (the request is cancelled, error reply)")
      ->capture_default_str();  // range: cosim::Server
  s->add_option("--max-message-bytes", o->max_message_bytes, "Largest request (sum of its frames)")->capture_default_str();
  s->add_option("--max-header-bytes", o->max_header_bytes, "Largest JSON header frame (checked before parsing)")
      ->capture_default_str();
  s->add_option("--max-sessions", o->max_sessions, "Most clients holding a session at once")->capture_default_str();
  s->add_option("--session-timeout", o->session_timeout_s,
                "Seconds without requests after which a client's session (model, chip, mapping) is freed")
      ->capture_default_str();  // range: cosim::Server
  s->add_option("--max-batch", o->max_batch, "Largest batch of one run request")->capture_default_str();
  s->add_option("--max-timesteps", o->max_timesteps, "Largest T of one run request")->capture_default_str();
  s->add_flag("--verbose", o->verbose, "Log one line per completed request (errors are always logged)");
  s->callback([o] { run_serve(*o); });
});

}  // namespace
}  // namespace spikechip::cli
