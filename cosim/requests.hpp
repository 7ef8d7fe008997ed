#pragma once
// Request handlers of the co-simulation server (docs/cosim.md "Messages"): load_model,
// update_weights, set_chip, map and run, each turning a parsed request and the client's session
// state into a reply or a ProtocolError. They run on the server's worker threads, one request of a
// session at a time (cosim/server.cpp owns the sockets, sessions and queues).
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "arch/chip_config.hpp"
#include "cosim/protocol.hpp"
#include "cosim/server.hpp"
#include "mapper/mapper.hpp"
#include "models/executor.hpp"
#include "models/graph.hpp"

namespace spikechip::cosim {

// A loaded model and the executor built for it. Immutable once published in a session (an
// update_weights builds a new one), so a run keeps a consistent snapshot.
struct LoadedModel {
  model::Graph graph;
  std::string origin;
  uint64_t version = 0;  // bumped by every load_model / update_weights of the session
  std::mutex exec_mutex;  // the executor holds per-run state
  std::unique_ptr<model::GoldenExecutor> exec;
};

// State a worker reads and writes; only one request of a session runs at a time, so no lock.
struct SessionState {
  std::shared_ptr<LoadedModel> model;
  std::optional<arch::ChipConfig> chip;
  // The last mapping (map request, or made by a cycle run); reused while the model structure, T
  // and chip are the same (weights do not change a mapping: mapper::structure_hash / chip_hash).
  std::shared_ptr<const mapper::Mapping> mapping;
  uint64_t versions = 0;
};
struct Ctx {
  const ServerOptions& opt;
  SessionState& s;
  const std::atomic<bool>& cancel;  // set by the main thread on timeout, shutdown or disconnect
};

// Runs the request (type load_model, update_weights, set_chip, map or run). Throws ProtocolError
// (error replies), model::RunCancelled (cancel was set) or other exceptions (internal errors).
Message dispatch(const Ctx& c, const Message& req);

}  // namespace spikechip::cosim
