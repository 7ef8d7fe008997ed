#pragma once
// The co-simulation server (docs/cosim.md): a ZeroMQ ROUTER socket answering PyTorch trainers.
// The main thread owns the socket, answers hello/stats/shutdown at once and queues every other
// request on its client's session (one request of a session in flight at a time, so a client's
// requests apply in order); a pool of worker threads executes them and hands replies back over
// an inproc socket. Runs poll a cancel flag (golden: between nodes; cycle: between chip events,
// in the worker thread, without the SystemC kernel), so a timed-out run stops. A session is freed
// when its client's connection closes (socket monitor) or after --session-timeout without requests.
#include <atomic>
#include <csignal>
#include <cstdint>
#include <memory>
#include <string>

#include "models/graph.hpp"

namespace spikechip::cosim {

struct ServerOptions {
  std::string bind = "tcp://127.0.0.1:5555";  // "tcp://127.0.0.1:*" picks a free port
  std::string chip_path;                      // initial chip of every session (optional)
  int workers = 2;                            // worker threads (concurrent requests)
  int exec_threads = 1;                       // threads of one golden run
  double timeout_s = 120;                     // per request, from dispatch to reply
  int64_t max_message_bytes = 256 << 20;      // sum of the frames of one request; also the queue budget per client
  int64_t max_header_bytes = 1 << 20;         // the JSON header frame, checked before it is parsed
  int max_batch = 4096;
  int max_timesteps = model::kMaxRunTimesteps;
  int max_queued_per_client = 16;
  int max_sessions = 256;                     // clients holding a session (model, chip, mapping) at once
  double session_timeout_s = 3600;            // a session without requests for this long is freed
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
