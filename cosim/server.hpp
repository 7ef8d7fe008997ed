#pragma once
// The co-simulation server (docs/cosim.md): a ZeroMQ ROUTER socket answering PyTorch trainers.
// The main thread owns the socket, answers hello/stats/shutdown at once and queues every other
// request on its client's session (one request of a session in flight at a time, so a client's
// requests apply in order); a pool of worker threads executes them and hands replies back over
// an inproc socket. Golden runs poll a cancel flag between nodes, so a timed-out run stops; a
// cycle-accurate run forks one child process per request (SystemC is one simulation per process),
// which the waiting worker kills on timeout / shutdown and always reaps.
#include <atomic>
#include <csignal>
#include <cstdint>
#include <memory>
#include <string>

namespace spikechip::cosim {

struct ServerOptions {
  std::string bind = "tcp://127.0.0.1:5555";  // "tcp://127.0.0.1:*" picks a free port
  std::string chip_path;                      // initial chip of every session (optional)
  int workers = 2;                            // worker threads (concurrent requests)
  int exec_threads = 1;                       // threads of one golden run
  double timeout_s = 120;                     // per request, from dispatch to reply
  int64_t max_message_bytes = 256 << 20;      // sum of the frames of one request
  int max_batch = 4096;
  int max_timesteps = 64;
  int max_queued_per_client = 16;
  bool verbose = false;                       // one log line per request (errors are always logged)
};

class Server {
 public:
  explicit Server(const ServerOptions& o);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound endpoint with the actual port (e.g. "tcp://127.0.0.1:40123").
  std::string endpoint() const;
  // Serves until a shutdown request or until *stop becomes non-zero (signal handler flag).
  // Returns after all workers are joined and the socket is closed.
  void serve(const volatile std::sig_atomic_t* stop = nullptr);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace spikechip::cosim
