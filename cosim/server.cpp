#include "cosim/server.hpp"

#include <fmt/format.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include <zmq_addon.hpp>

#include "arch/chip_config.hpp"
#include "cosim/protocol.hpp"
#include "mapper/mapper.hpp"
#include "models/executor.hpp"
#include "models/graph_io.hpp"
#include "report/golden_report.hpp"
#include "pipeline/run_pipeline.hpp"
#include "spikechip/version.hpp"

namespace spikechip::cosim {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

void log_line(const std::string& s) {
  // One write per line so concurrent servers / threads never interleave inside a line.
  const std::string line = "spikechip serve: " + s + "\n";
  std::cerr.write(line.data(), std::streamsize(line.size()));
  std::cerr.flush();
}

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

struct Pending {
  std::vector<std::string> envelope;  // routing id (+ empty delimiter for REQ clients)
  Message msg;
  Clock::time_point received;
};

struct Session {
  std::shared_ptr<SessionState> state = std::make_shared<SessionState>();
  std::deque<Pending> queue;
  bool busy = false;
};

struct InFlight {
  std::string session;
  std::vector<std::string> envelope;
  json id;
  std::string type;
  Clock::time_point start, deadline;
  std::shared_ptr<std::atomic<bool>> cancel;
  bool answered = false;  // a timeout / shutdown error already went out; drop the worker's reply
};

using Job = std::function<void(zmq::socket_t& results)>;

// Fixed worker threads; each owns a PUSH socket to the main thread's PULL (zmq sockets are not
// thread-safe, so only the main thread touches the ROUTER).
class WorkerPool {
 public:
  WorkerPool(zmq::context_t& ctx, const std::string& endpoint, int n) {
    for (int i = 0; i < n; ++i)
      threads_.emplace_back([this, &ctx, endpoint] {
        zmq::socket_t push(ctx, zmq::socket_type::push);
        push.set(zmq::sockopt::linger, 0);
        push.connect(endpoint);
        for (;;) {
          Job job;
          {
            std::unique_lock lk(mu_);
            cv_.wait(lk, [this] { return stop_ || !jobs_.empty(); });
            if (jobs_.empty()) return;  // stop_ and drained
            job = std::move(jobs_.front());
            jobs_.pop_front();
          }
          job(push);
        }
      });
  }
  ~WorkerPool() { stop(); }
  void submit(Job j) {
    {
      std::lock_guard lk(mu_);
      jobs_.push_back(std::move(j));
    }
    cv_.notify_one();
  }
  void stop() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

const char* const kQueuedTypes[] = {"load_model", "update_weights", "set_chip", "map", "run"};
const char* const kAllTypes[] = {"hello", "stats", "shutdown", "load_model", "update_weights", "set_chip", "map", "run"};

json tensor_list(const model::SafeTensors& st) {
  json a = json::array();
  for (const auto& [name, t] : st.tensors)
    a.push_back({{"name", name}, {"dtype", wire_dtype_name(t.dtype)}, {"shape", t.shape}});
  return a;
}

json model_summary(const LoadedModel& m) {
  const model::Graph& g = m.graph;
  const model::Node& in = g.input();
  return {{"name", g.name},
          {"origin", m.origin},
          {"model_version", m.version},
          {"timesteps", g.timesteps},
          {"num_classes", g.num_classes},
          {"nodes", g.nodes.size()},
          {"input", {{"shape", {in.shape.c, in.shape.h, in.shape.w}}, {"encoding", in.encoding}}},
          {"provenance", g.provenance},
          {"tensors", tensor_list(model::graph_tensors(g))}};
}

// ---------------------------------------------------------------- request handlers (workers)

struct Ctx {
  const ServerOptions& opt;
  SessionState& s;
  const std::atomic<bool>& cancel;
};

std::shared_ptr<LoadedModel> publish(SessionState& s, model::Graph g, std::string origin) {
  auto m = std::make_shared<LoadedModel>();
  m->graph = std::move(g);
  m->origin = std::move(origin);
  m->version = ++s.versions;
  s.model = m;
  return m;
}

// load_model and set_chip take their object either from a file on the server ("path") or inline
// in the request: exactly one of the two. Returns the path when it was given.
std::optional<std::string> path_or_inline(const json& h, const char* inline_key, const std::string& usage) {
  if (h.contains("path") == h.contains(inline_key)) throw ProtocolError(code::kBadHeader, usage);
  if (!h.contains("path")) return std::nullopt;
  if (!h["path"].is_string()) throw ProtocolError(code::kBadHeader, "\"path\" must be a string");
  return h["path"].get<std::string>();
}

// Library errors (bad model, bad chip, ...) reach the client as protocol errors with `error_code`.
template <class F>
void as_protocol_error(const char* error_code, F&& f) {
  try {
    f();
  } catch (const ProtocolError&) {
    throw;
  } catch (const Error& e) {
    throw ProtocolError(error_code, e.what());
  }
}

Message handle_load_model(const Ctx& c, const Message& req) {
  const json& h = req.header;
  check_keys(h, {"type", "id", "protocol", "path", "graph", "tensors"});
  const auto path = path_or_inline(h, "graph",
                                   "load_model needs exactly one of \"path\" (model directory on the server) "
                                   "or \"graph\" (graph.json object, with the tensors as frames)");
  as_protocol_error(code::kBadModel, [&] {
    if (path) {
      if (!req.tensors.empty()) throw ProtocolError(code::kBadFrames, "load_model by path takes no tensor frames");
      publish(c.s, model::load_model(*path), *path);
    } else {
      const std::string origin = "load_model request graph";
      model::Graph g = model::graph_from_json(h["graph"], origin);
      model::SafeTensors st;
      for (const NamedTensor& t : req.tensors) st.tensors[t.name] = t.data;
      model::attach_tensors(g, st, origin);
      model::validate_graph(g, origin);
      publish(c.s, std::move(g), "(sent by client)");
    }
  });
  Message r;
  r.header = {{"type", "model_loaded"}, {"model", model_summary(*c.s.model)}};
  return r;
}

// The strict tensor check of update_weights: each name must be one of the graph's tensors with
// the same dtype and shape; the updated graph is validated as a whole (e.g. shift range).
Message handle_update_weights(const Ctx& c, const Message& req) {
  const json& h = req.header;
  check_keys(h, {"type", "id", "protocol", "tensors", "quant"});
  if (!c.s.model) throw ProtocolError(code::kNoModel, "update_weights before load_model: load a model first");
  if (req.tensors.empty() && !h.contains("quant"))
    throw ProtocolError(code::kBadHeader, "update_weights needs tensor frames and/or \"quant\"");
  const LoadedModel& cur = *c.s.model;
  model::SafeTensors st = model::graph_tensors(cur.graph);
  json updated = json::array();
  for (const NamedTensor& t : req.tensors) {
    auto it = st.tensors.find(t.name);
    if (it == st.tensors.end())
      throw ProtocolError(code::kBadTensor, "update_weights: model '" + cur.graph.name + "' has no tensor '" + t.name +
                                                "' (names are <node>.weight|bias|shift|threshold|zero_point, see the "
                                                "\"tensors\" list of the load_model reply)");
    if (it->second.dtype != t.data.dtype || it->second.shape != t.data.shape)
      throw ProtocolError(code::kBadTensor,
                          fmt::format("update_weights: tensor '{}' is {} {}, expected {} {}", t.name,
                                      wire_dtype_name(t.data.dtype), model::shape_to_string(t.data.shape),
                                      wire_dtype_name(it->second.dtype), model::shape_to_string(it->second.shape)));
    it->second = t.data;
    updated.push_back(t.name);
  }
  model::Graph g = cur.graph;  // copy: runs of the old snapshot may still be replying
  if (h.contains("quant")) {
    if (!h["quant"].is_object())
      throw ProtocolError(code::kBadHeader, "\"quant\" must be an object {node name: quant object}");
    for (const auto& [name, q] : h["quant"].items()) {
      const int i = g.find(name);
      if (i < 0) throw ProtocolError(code::kBadHeader, "update_weights: \"quant\" names unknown node '" + name + "'");
      if (!q.is_object()) throw ProtocolError(code::kBadHeader, "update_weights: quant of '" + name + "' must be an object");
      g.nodes[size_t(i)].quant = q;
    }
  }
  as_protocol_error(code::kBadTensor, [&] {
    const std::string origin = "update_weights of model '" + g.name + "'";
    model::attach_tensors(g, st, origin);
    model::validate_graph(g, origin);
  });
  auto m = publish(c.s, std::move(g), cur.origin + " (updated)");
  Message r;
  r.header = {{"type", "weights_updated"}, {"updated", updated}, {"model_version", m->version}};
  return r;
}

json chip_summary(const arch::ChipConfig& ch) {
  return {{"name", ch.name},
          {"mesh", {ch.global_width(), ch.global_height()}},
          {"cores", ch.num_cores()},
          {"clock_hz", ch.clock_hz},
          {"tech_node", ch.tech.node},
          {"source", ch.source_path}};
}

Message handle_set_chip(const Ctx& c, const Message& req) {
  const json& h = req.header;
  check_keys(h, {"type", "id", "protocol", "path", "chip"});
  const auto path =
      path_or_inline(h, "chip", "set_chip needs exactly one of \"path\" (chip JSON on the server) or \"chip\"");
  if (!req.tensors.empty()) throw ProtocolError(code::kBadFrames, "set_chip takes no tensor frames");
  as_protocol_error(code::kBadChip, [&] {
    c.s.chip = path ? arch::load_chip_config(*path) : arch::chip_config_from_json(h["chip"], "set_chip request chip");
  });
  Message r;
  r.header = {{"type", "chip_set"}, {"chip", chip_summary(*c.s.chip)}};
  return r;
}

Message handle_map(const Ctx& c, const Message& req) {
  const json& h = req.header;
  check_keys(h, {"type", "id", "protocol", "placement", "seed"});
  if (!c.s.model) throw ProtocolError(code::kNoModel, "map before load_model: load a model first");
  if (!c.s.chip) throw ProtocolError(code::kNoChip, "map before set_chip: set a chip first (or start the server with --chip)");
  mapper::MapOptions mo;
  if (h.contains("placement")) {
    if (!h["placement"].is_string()) throw ProtocolError(code::kBadHeader, "\"placement\" must be a string");
    mo.placement = h["placement"].get<std::string>();
  }
  if (h.contains("seed")) {
    if (!h["seed"].is_number_unsigned()) throw ProtocolError(code::kBadHeader, "\"seed\" must be an integer >= 0");
    mo.seed = h["seed"].get<uint64_t>();
  }
  mapper::Mapping m;
  try {
    m = mapper::map_model(c.s.model->graph, *c.s.chip, mo);
  } catch (const std::exception& e) {  // UsageError for a bad placement name, Error when it does not fit
    throw ProtocolError(code::kMapFailed, e.what());
  }
  c.s.mapping = std::make_shared<const mapper::Mapping>(m);
  Message r;
  r.header = {{"type", "mapped"},
              {"model_version", c.s.model->version},
              {"chip", chip_summary(*c.s.chip)},
              {"groups", m.groups.size()},
              {"routes", m.routes.size()},
              {"summary", m.summary}};
  return r;
}

// A parsed run request: the input batch as views into the request's frame.
struct RunRequest {
  std::string mode;
  int T = 1;
  int64_t B = 0;
  bool layers = true;
  std::vector<model::InputView> inputs;
  std::vector<int> labels;  // [B], -1 when not given
  std::vector<std::string> origins;
};

RunRequest parse_run(const Ctx& c, const Message& req, const model::Graph& g) {
  const json& h = req.header;
  RunRequest rq;
  rq.mode = h.value("mode", std::string("golden"));
  if (rq.mode != "golden" && rq.mode != "cycle")
    throw ProtocolError(code::kBadHeader, "\"mode\" must be 'golden' or 'cycle', got '" + rq.mode + "'");
  if (h.contains("layers") && !h["layers"].is_boolean()) throw ProtocolError(code::kBadHeader, "\"layers\" must be true or false");
  rq.layers = h.value("layers", true);
  rq.T = g.timesteps;
  if (h.contains("T")) {
    if (!h["T"].is_number_integer()) throw ProtocolError(code::kBadHeader, "\"T\" must be an integer");
    const int64_t t = h["T"].get<int64_t>();
    if (t < 1 || t > c.opt.max_timesteps)
      throw ProtocolError(code::kBadHeader, fmt::format("\"T\" = {} out of range 1..{}", t, c.opt.max_timesteps));
    rq.T = int(t);
  }
  if (req.tensors.size() != 1 || req.tensors[0].name != "x")
    throw ProtocolError(code::kBadFrames, "run takes exactly one tensor frame named 'x' (uint8 [B,C,H,W], or "
                                          "[B,T,C,H,W] for an events model)");
  const model::TensorData& x = req.tensors[0].data;
  const model::Shape& is = g.input().shape;
  const bool events = g.input().encoding == "events";
  std::vector<int64_t> want = {-1, is.c, is.h, is.w};
  if (events) want.insert(want.begin() + 1, rq.T);
  bool ok = x.dtype == model::DType::U8 && x.shape.size() == want.size();
  for (size_t k = 1; ok && k < want.size(); ++k) ok = x.shape[k] == want[k];
  if (!ok) {
    std::string w = events ? fmt::format("[B, {}, {}, {}, {}]", rq.T, is.c, is.h, is.w)
                           : fmt::format("[B, {}, {}, {}]", is.c, is.h, is.w);
    throw ProtocolError(code::kBadTensor, fmt::format("run: 'x' is {} {}, model '{}' needs uint8 {}",
                                                      wire_dtype_name(x.dtype), model::shape_to_string(x.shape), g.name, w));
  }
  rq.B = x.shape[0];
  if (rq.B < 1 || rq.B > c.opt.max_batch)
    throw ProtocolError(code::kTooLarge, fmt::format("run: batch {} out of range 1..{} (--max-batch)", rq.B, c.opt.max_batch));
  rq.labels.assign(size_t(rq.B), -1);
  if (h.contains("labels")) {
    const json& l = h["labels"];
    if (!l.is_array() || int64_t(l.size()) != rq.B)
      throw ProtocolError(code::kBadHeader, fmt::format("\"labels\" must be an array of {} integers", rq.B));
    for (int64_t k = 0; k < rq.B; ++k) {
      if (!l[size_t(k)].is_number_integer()) throw ProtocolError(code::kBadHeader, "\"labels\" must hold integers");
      rq.labels[size_t(k)] = l[size_t(k)].get<int>();
    }
  }
  const int frames = events ? rq.T : 1;
  const size_t stride = size_t(frames) * size_t(is.size());
  for (int64_t k = 0; k < rq.B; ++k) {
    rq.inputs.push_back(model::InputView{x.bytes.data() + size_t(k) * stride, frames, is});
    rq.origins.push_back(fmt::format("x[{}]", k));
  }
  return rq;
}

// The reply both run modes share; `latency` and the report are mode-specific.
Message run_result(const RunRequest& rq, const LoadedModel& m, json preds, json spikes, json energy, json latency,
                   json rep) {
  Message r;
  r.header = {{"type", "run_result"},
              {"mode", rq.mode},
              {"model_version", m.version},
              {"T", rq.T},
              {"batch", rq.B},
              {"predictions", std::move(preds)},
              {"spikes", std::move(spikes)},
              {"energy_pJ", std::move(energy)},
              {"latency", std::move(latency)},
              {"report", std::move(rep)}};
  return r;
}

Message run_golden(const Ctx& c, LoadedModel& m, const RunRequest& rq) {
  const model::Graph& g = m.graph;
  std::vector<report::ReportOptions> ro(size_t(rq.B));
  for (size_t k = 0; k < ro.size(); ++k) ro[k].label = rq.labels[k], ro[k].input_origin = rq.origins[k];
  const auto t0 = Clock::now();
  std::vector<model::RunResult> runs;
  runs.reserve(size_t(rq.B));
  {
    std::lock_guard lk(m.exec_mutex);
    if (!m.exec) m.exec = std::make_unique<model::GoldenExecutor>(g);
    model::RunOptions o;
    o.threads = c.opt.exec_threads;
    o.cancel = &c.cancel;
    for (const model::InputView& in : rq.inputs) runs.push_back(m.exec->run(in, rq.T, o));
  }
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  json rep = report::make_golden_report(g, runs, ro);
  if (!rq.layers) rep.erase("layers");
  else
    for (json& l : rep["layers"]) l.erase("per_timestep");  // per-timestep detail: spikechip infer
  json preds = json::array(), spikes = json::array(), energy = json::array();
  for (const json& in : rep["inputs"]) {
    preds.push_back(in["prediction"]);
    spikes.push_back(in["spikes"]);
    energy.push_back(in["paper_energy_pJ"]);
  }
  return run_result(rq, m, std::move(preds), std::move(spikes), std::move(energy),
                    {{"wall_s", wall}, {"cycles", nullptr}}, std::move(rep));
}

void write_all(int fd, const std::string& s) {
  for (size_t off = 0; off < s.size();) {
    const ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the parent is gone or gave up (timeout): nothing left to do
    off += size_t(n);
  }
}

// Runs body() in a forked child process and returns what it wrote. SystemC is one simulation per
// process, so every cycle-accurate request gets a fresh copy of the server (the session's model,
// chip and mapping are already in memory). The calling worker thread waits, polling `cancel`
// (set by the main thread on timeout / shutdown): then the child is killed and reaped and
// RunCancelled is thrown. A child that dies gives sim_failed; the server itself is unaffected.
std::string run_in_child(const std::function<std::string()>& body, const std::atomic<bool>& cancel) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw Error(std::string("cycle run: pipe failed: ") + std::strerror(errno));
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int e = errno;
    ::close(fds[0]), ::close(fds[1]);
    throw ProtocolError(code::kSimFailed, std::string("cycle run: fork failed: ") + std::strerror(e));
  }
  if (pid == 0) {
    // Die with the server even if it is SIGKILLed (no orphaned simulations).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    // Only the pipe and stdio stay open: the router socket, zmq's fds and the pipes of sibling
    // children forked concurrently by other worker threads must not be held by this child.
    const int out = fds[1];
    if (::syscall(SYS_close_range, 3u, unsigned(out) - 1, 0u) != 0 || ::syscall(SYS_close_range, unsigned(out) + 1, ~0u, 0u) != 0)
      for (int fd = 3; fd < 65536; ++fd)
        if (fd != out) ::close(fd);
    ::dup2(2, 1);  // stdout carries only the server's "listening on" line
    std::string result;
    int rc = 0;
    try {
      result = body();
    } catch (const ProtocolError& e) {
      result = json{{"code", e.code()}, {"message", e.what()}}.dump(), rc = 3;
    } catch (const std::exception& e) {
      result = json{{"code", code::kSimFailed}, {"message", e.what()}}.dump(), rc = 3;
    }
    write_all(out, result);
    ::_exit(rc);  // no atexit handlers / destructors: they belong to the server's threads and sockets
  }
  ::close(fds[1]);
  std::string buf;
  bool killed = false;
  std::vector<char> tmp(1 << 16);
  for (;;) {
    if (cancel.load()) {
      ::kill(pid, SIGKILL);
      killed = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int r = ::poll(&p, 1, 20);
    if (r <= 0) continue;  // timeout slice or EINTR: check cancel again
    const ssize_t n = ::read(fds[0], tmp.data(), tmp.size());
    if (n > 0) buf.append(tmp.data(), size_t(n));
    else if (n == 0 || errno != EINTR) break;  // EOF: the child is done (or died)
  }
  ::close(fds[0]);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (killed) throw model::RunCancelled();
  if (WIFSIGNALED(st))
    throw ProtocolError(code::kSimFailed, fmt::format("the cycle-mode worker process {} died of signal {} ({})", pid,
                                                      WTERMSIG(st), ::strsignal(WTERMSIG(st))));
  if (WIFEXITED(st) && WEXITSTATUS(st) == 3) {
    const json e = json::parse(buf, nullptr, false);
    if (e.is_object() && e.contains("code"))
      throw ProtocolError(e["code"].get<std::string>(), e["message"].get<std::string>());
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    throw ProtocolError(code::kSimFailed, fmt::format("the cycle-mode worker process {} exited with status {}", pid,
                                                      WIFEXITED(st) ? WEXITSTATUS(st) : -1));
  return buf;
}

// mode "cycle": the batch on the cycle-accurate chip in a child process, verified against the
// golden executor and reported exactly as `spikechip run` does (the same pipeline::run).
Message run_cycle(const Ctx& c, const LoadedModel& m, const RunRequest& rq) {
  if (!c.s.chip)
    throw ProtocolError(code::kNoChip, "run mode 'cycle' needs a chip: set_chip first (or start the server with --chip)");
  const arch::ChipConfig& chip = *c.s.chip;
  // `spikechip run` maps the graph with its timesteps set to T; the same graph is used here.
  std::optional<model::Graph> gT;
  if (rq.T != m.graph.timesteps) gT = m.graph, gT->timesteps = rq.T;
  const model::Graph& g = gT ? *gT : m.graph;
  if (!c.s.mapping || c.s.mapping->model_hash != mapper::structure_hash(g) || c.s.mapping->chip_hash != mapper::chip_hash(chip)) {
    try {  // as `spikechip run` without --mapping: placed with the firing rates these inputs have
      c.s.mapping = std::make_shared<const mapper::Mapping>(pipeline::map_for_inputs(g, chip, rq.inputs, rq.T, {}));
    } catch (const std::exception& e) {
      throw ProtocolError(code::kMapFailed, e.what());
    }
  }
  const mapper::Mapping& mp = *c.s.mapping;
  const auto t0 = Clock::now();
  const std::string out = run_in_child(
      [&] {
        pipeline::Options po;
        po.T = rq.T, po.golden_threads = c.opt.exec_threads, po.mapping = &mp, po.started = t0;
        po.model_path = m.origin, po.chip_path = chip.source_path, po.command = "spikechip serve: run mode cycle";
        pipeline::Inputs in{rq.inputs, rq.origins, rq.labels};
        const pipeline::Result pr = pipeline::run(g, chip, in, po);
        const arch::ChipBatchRun& run = pr.run;
        const std::string& mismatch = pr.mismatch;
        json spikes = json::array();
        for (const auto& r : run.results) {
          uint64_t n = 0;
          for (const auto& node : r.stats)
            for (const auto& s : node) n += s.spikes;
          spikes.push_back(n);
        }
        json res = {{"report", pr.report}, {"spikes", spikes}};
        if (!mismatch.empty()) res["mismatch"] = mismatch;
        return res.dump();
      },
      c.cancel);
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  json res = json::parse(out);
  json rep = std::move(res["report"]);
  rep.erase("timeline");  // cycle-level detail: `spikechip run -o` writes it
  if (!rq.layers) rep.erase("layers"), rep.erase("cores"), rep.erase("links");
  json preds = json::array(), energy = json::array(), cycles = json::array(), secs = json::array();
  for (const json& in : rep["inputs"]) {
    preds.push_back(in["prediction"]);
    energy.push_back(in["energy_pJ"]);
    cycles.push_back(in["latency_cycles"]);
    secs.push_back(in["latency_cycles"].get<double>() / chip.clock_hz);
  }
  json by_component = rep["energy_by_component_pJ"], verified = rep["run"]["verified"];
  Message r = run_result(rq, m, std::move(preds), std::move(res["spikes"]), std::move(energy),
                         {{"wall_s", wall}, {"cycles", cycles}, {"s", secs}}, std::move(rep));
  r.header["energy_by_component_pJ"] = std::move(by_component);
  r.header["verified"] = std::move(verified);
  if (res.contains("mismatch")) r.header["mismatch"] = res["mismatch"];
  return r;
}

Message handle_run(const Ctx& c, const Message& req) {
  check_keys(req.header, {"type", "id", "protocol", "tensors", "T", "mode", "labels", "layers"});
  if (!c.s.model) throw ProtocolError(code::kNoModel, "run before load_model: load a model first");
  std::shared_ptr<LoadedModel> m = c.s.model;
  const RunRequest rq = parse_run(c, req, m->graph);
  return rq.mode == "cycle" ? run_cycle(c, *m, rq) : run_golden(c, *m, rq);
}

Message dispatch(const Ctx& c, const Message& req) {
  const std::string t = req.header["type"].get<std::string>();
  if (t == "load_model") return handle_load_model(c, req);
  if (t == "update_weights") return handle_update_weights(c, req);
  if (t == "set_chip") return handle_set_chip(c, req);
  if (t == "map") return handle_map(c, req);
  return handle_run(c, req);
}

}  // namespace

// ---------------------------------------------------------------- the main loop

struct Server::Impl {
  ServerOptions opt;
  zmq::context_t ctx{1};
  zmq::socket_t router{ctx, zmq::socket_type::router};
  zmq::socket_t results{ctx, zmq::socket_type::pull};
  std::string endpoint, results_endpoint;
  std::unique_ptr<WorkerPool> pool;
  std::optional<arch::ChipConfig> initial_chip;

  std::unordered_map<std::string, Session> sessions;
  std::map<uint64_t, InFlight> inflight;
  uint64_t next_seq = 1;
  bool stopping = false;

  // counters (main thread only)
  Clock::time_point started = Clock::now();
  std::map<std::string, uint64_t> requests_by_type, errors_by_code;
  uint64_t requests = 0, replies = 0, replies_dropped = 0, completed = 0;
  double busy_s = 0;

  void send(const std::vector<std::string>& envelope, std::vector<zmq::message_t> frames, const std::string& what) {
    std::vector<zmq::message_t> all;
    for (const std::string& e : envelope) all.emplace_back(e.data(), e.size());
    for (auto& f : frames) all.push_back(std::move(f));
    try {
      // ROUTER_MANDATORY: a reply to a client that went away fails here instead of vanishing.
      if (!zmq::send_multipart(router, all, zmq::send_flags::dontwait)) {
        ++replies_dropped;
        log_line("reply to " + what + " dropped: client not reading (send would block)");
        return;
      }
      ++replies;
    } catch (const zmq::error_t& e) {
      ++replies_dropped;
      log_line("reply to " + what + " dropped: client gone (" + e.what() + ")");
      if (!envelope.empty()) forget_session(envelope.front());
    }
  }

  void forget_session(const std::string& key) {
    auto it = sessions.find(key);
    if (it != sessions.end() && !it->second.busy) sessions.erase(it);
  }

  void send_error(const std::vector<std::string>& envelope, const json& id, const std::string& c, const std::string& msg,
                  const std::string& type) {
    ++errors_by_code[c];
    log_line(fmt::format("error {} for {} id {}: {}", c, type.empty() ? "?" : type, id.dump(), msg));
    Message m;
    m.header = error_header(id, c, msg);
    send(envelope, encode_message(m), "error " + c);
  }

  json hello_reply() const {
    json types = json::array();
    for (const char* t : kAllTypes) types.push_back(t);
    return {{"type", "hello"},
            {"server", "spikechip"},
            {"version", kVersion},
            {"protocol", kProtocolVersion},
            {"capabilities",
             {{"requests", types},
              {"modes", {"golden", "cycle"}},
              {"missing", json::object()},
              {"dtypes", {"uint8", "int8", "int32", "float32"}},
              {"load_model", {"path", "graph"}},
              {"update_weights", "integer graph tensors <node>.<tensor> (strict dtype/shape), optional quant"}}},
            {"limits",
             {{"max_message_bytes", opt.max_message_bytes},
              {"max_batch", opt.max_batch},
              {"max_timesteps", opt.max_timesteps},
              {"max_queued_per_client", opt.max_queued_per_client},
              {"timeout_s", opt.timeout_s},
              {"workers", opt.workers}}}};
  }

  json stats_reply() const {
    size_t queued = 0, busy = 0;
    for (const auto& [k, s] : sessions) queued += s.queue.size(), busy += s.busy;
    return {{"type", "stats"},
            {"uptime_s", std::chrono::duration<double>(Clock::now() - started).count()},
            {"requests", requests},
            {"requests_by_type", requests_by_type},
            {"replies", replies},
            {"replies_dropped", replies_dropped},
            {"errors_by_code", errors_by_code},
            {"completed", completed},
            {"worker_busy_s", busy_s},
            {"in_flight", busy},
            {"queued", queued},
            {"sessions", sessions.size()},
            {"workers", opt.workers}};
  }

  void on_request(std::vector<zmq::message_t>& frames) {
    ++requests;
    if (frames.size() < 2) return;  // a routing id alone: nothing to answer
    std::vector<std::string> envelope{frames[0].to_string()};
    size_t body_at = 1;
    if (frames[1].size() == 0) {  // REQ-style empty delimiter: echo it
      envelope.emplace_back();
      body_at = 2;
    }
    std::vector<zmq::message_t> body;
    size_t bytes = 0;
    for (size_t i = body_at; i < frames.size(); ++i) {
      bytes += frames[i].size();
      body.push_back(std::move(frames[i]));
    }
    json id = nullptr;
    std::string type;
    if (!body.empty()) {
      json h = json::parse(body[0].data<char>(), body[0].data<char>() + body[0].size(), nullptr, false);
      id = header_id(h);
      if (h.is_object() && h.contains("type") && h["type"].is_string()) type = h["type"].get<std::string>();
    }
    ++requests_by_type[type.empty() ? "(invalid)" : type];
    if (int64_t(bytes) > opt.max_message_bytes)
      return send_error(envelope, id, code::kTooLarge,
                        fmt::format("message of {} bytes exceeds --max-message-bytes {}", bytes, opt.max_message_bytes),
                        type);
    Message msg;
    try {
      msg = parse_message(body);
    } catch (const ProtocolError& e) {
      return send_error(envelope, id, e.code(), e.what(), type);
    }
    if (stopping) return send_error(envelope, id, code::kShuttingDown, "server is shutting down", type);
    if (type == "hello" || type == "stats" || type == "shutdown") {
      try {
        check_keys(msg.header, {"type", "id", "protocol", "client"});
      } catch (const ProtocolError& e) {
        return send_error(envelope, id, e.code(), e.what(), type);
      }
      Message r;
      r.header = type == "hello" ? hello_reply() : type == "stats" ? stats_reply() : json{{"type", "shutdown"}};
      r.header["id"] = id;
      r.header["protocol"] = kProtocolVersion;
      send(envelope, encode_message(r), type);
      if (type == "shutdown") {
        log_line("shutdown requested by a client");
        stopping = true;
      }
      return;
    }
    bool known = false;
    for (const char* t : kQueuedTypes) known = known || type == t;
    if (!known) {
      std::string list;
      for (const char* t : kAllTypes) list += (list.empty() ? "" : ", ") + std::string(t);
      return send_error(envelope, id, code::kUnknownType, "unknown request type '" + type + "' (known: " + list + ")",
                        type);
    }
    auto [it, fresh] = sessions.try_emplace(envelope.front());
    Session& s = it->second;
    if (fresh && initial_chip) s.state->chip = initial_chip;
    if (int(s.queue.size()) >= opt.max_queued_per_client)
      return send_error(envelope, id, code::kBusy,
                        fmt::format("{} requests already queued for this client; wait for replies", s.queue.size()), type);
    s.queue.push_back(Pending{std::move(envelope), std::move(msg), Clock::now()});
    pump(it->first, s);
  }

  // Starts the session's next queued request if none is running.
  void pump(const std::string& key, Session& s) {
    if (s.busy || s.queue.empty() || stopping) return;
    Pending p = std::move(s.queue.front());
    s.queue.pop_front();
    s.busy = true;
    const uint64_t seq = next_seq++;
    InFlight f;
    f.session = key;
    f.envelope = p.envelope;
    f.id = header_id(p.msg.header);
    f.type = p.msg.header["type"].get<std::string>();
    f.start = Clock::now();
    f.deadline = f.start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.timeout_s));
    f.cancel = std::make_shared<std::atomic<bool>>(false);
    auto state = s.state;
    auto cancel = f.cancel;
    const ServerOptions* o = &opt;
    inflight.emplace(seq, std::move(f));
    pool->submit([seq, state, cancel, o, msg = std::move(p.msg)](zmq::socket_t& push) {
      Message reply;
      try {
        reply = dispatch(Ctx{*o, *state, *cancel}, msg);
        reply.header["id"] = header_id(msg.header);
        reply.header["protocol"] = kProtocolVersion;
      } catch (const ProtocolError& e) {
        reply = Message{error_header(header_id(msg.header), e.code(), e.what()), {}};
      } catch (const model::RunCancelled&) {
        reply = Message{error_header(header_id(msg.header), code::kTimeout, "cancelled"), {}};
      } catch (const std::exception& e) {
        reply = Message{error_header(header_id(msg.header), code::kInternal, e.what()), {}};
      }
      // [seq, error code or empty, reply frames...]: the main thread logs errors without parsing
      // the (possibly large) reply header again.
      std::vector<zmq::message_t> out;
      out.emplace_back(&seq, sizeof seq);
      const bool err = reply.header["type"] == "error";
      const std::string status = err ? reply.header["code"].get<std::string>() + '\n' + reply.header["message"].get<std::string>() : "";
      out.emplace_back(status.data(), status.size());
      for (auto& f : encode_message(reply)) out.push_back(std::move(f));
      zmq::send_multipart(push, out);
    });
  }

  void on_result(std::vector<zmq::message_t>& frames) {
    uint64_t seq = 0;
    std::memcpy(&seq, frames.at(0).data(), sizeof seq);
    auto it = inflight.find(seq);
    if (it == inflight.end()) return;
    InFlight f = std::move(it->second);
    inflight.erase(it);
    ++completed;
    busy_s += std::chrono::duration<double>(Clock::now() - f.start).count();
    const std::string status = frames.at(1).to_string();
    frames.erase(frames.begin(), frames.begin() + 2);
    if (!f.answered) {
      if (!status.empty()) {
        const size_t nl = status.find('\n');
        ++errors_by_code[status.substr(0, nl)];
        log_line(fmt::format("error {} for {} id {}: {}", status.substr(0, nl), f.type, f.id.dump(), status.substr(nl + 1)));
      } else if (opt.verbose) {
        log_line(fmt::format("{} id {} done in {:.2f} ms", f.type, f.id.dump(),
                             1e3 * std::chrono::duration<double>(Clock::now() - f.start).count()));
      }
      send(f.envelope, std::move(frames), f.type);
    }
    auto s = sessions.find(f.session);
    if (s != sessions.end()) {
      s->second.busy = false;
      pump(s->first, s->second);
    }
  }

  void check_deadlines() {
    const auto now = Clock::now();
    for (auto& [seq, f] : inflight)
      if (!f.answered && now >= f.deadline) {
        f.answered = true;
        f.cancel->store(true);
        send_error(f.envelope, f.id, code::kTimeout,
                   fmt::format("{} exceeded the server timeout of {} s and was cancelled", f.type, opt.timeout_s), f.type);
      }
  }

  void serve(const volatile std::sig_atomic_t* stop) {
    log_line("listening on " + endpoint + fmt::format(" ({} workers, protocol {})", opt.workers, kProtocolVersion));
    while (!stopping) {
      if (stop && *stop) {
        log_line("signal received, shutting down");
        stopping = true;
        break;
      }
      std::vector<zmq::pollitem_t> items = {{router.handle(), 0, ZMQ_POLLIN, 0}, {results.handle(), 0, ZMQ_POLLIN, 0}};
      auto wait = std::chrono::milliseconds(100);
      for (const auto& [seq, f] : inflight)
        if (!f.answered)
          wait = std::min(wait, std::max(std::chrono::milliseconds(0),
                                         std::chrono::duration_cast<std::chrono::milliseconds>(f.deadline - Clock::now()) +
                                             std::chrono::milliseconds(1)));
      try {
        zmq::poll(items, wait);
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) continue;
        throw;
      }
      if (items[1].revents & ZMQ_POLLIN) drain(results, [this](auto& fr) { on_result(fr); });
      if (items[0].revents & ZMQ_POLLIN) drain(router, [this](auto& fr) { on_request(fr); });
      check_deadlines();
    }
    shutdown();
  }

  template <class F>
  void drain(zmq::socket_t& sock, F&& handle) {
    for (int n = 0; n < 256; ++n) {  // bounded, so neither socket starves the other
      std::vector<zmq::message_t> frames;
      if (!zmq::recv_multipart(sock, std::back_inserter(frames), zmq::recv_flags::dontwait)) return;
      try {
        handle(frames);
      } catch (const std::exception& e) {  // a bug in one request must not end the server
        ++errors_by_code[code::kInternal];
        log_line(std::string("internal error while handling a message: ") + e.what());
      }
    }
  }

  void shutdown() {
    // Queued and running requests get an answer; running golden runs stop at the next node.
    for (auto& [key, s] : sessions)
      for (Pending& p : s.queue)
        send_error(p.envelope, header_id(p.msg.header), code::kShuttingDown, "server is shutting down",
                   p.msg.header["type"].get<std::string>());
    for (auto& [seq, f] : inflight)
      if (!f.answered) {
        f.answered = true;
        f.cancel->store(true);
        send_error(f.envelope, f.id, code::kShuttingDown, "server is shutting down; request cancelled", f.type);
      }
    pool->stop();
    sessions.clear();
    log_line(fmt::format("stopped after {} requests ({} errors)", requests, [&] {
      uint64_t n = 0;
      for (const auto& [c, k] : errors_by_code) n += k;
      return n;
    }()));
  }
};

Server::Server(const ServerOptions& o) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.opt = o;
  if (o.workers < 1 || o.workers > 256) throw UsageError("--workers must be in 1..256");
  if (o.timeout_s <= 0) throw UsageError("--timeout must be > 0 seconds");
  if (o.max_message_bytes < 1024) throw UsageError("--max-message-bytes must be >= 1024");
  if (o.max_batch < 1) throw UsageError("--max-batch must be >= 1");
  if (!o.chip_path.empty()) m.initial_chip = arch::load_chip_config(o.chip_path);
  m.router.set(zmq::sockopt::router_mandatory, 1);
  // libzmq drops a peer that sends a larger frame (no reply possible); below that the server
  // answers too_large itself, so the guard sits well above the documented limit.
  m.router.set(zmq::sockopt::maxmsgsize, o.max_message_bytes * 2 + 65536);
  m.router.set(zmq::sockopt::linger, 1000);  // let final replies (shutdown) leave before close
  try {
    m.router.bind(o.bind);
  } catch (const zmq::error_t& e) {
    throw Error("cannot bind '" + o.bind + "': " + e.what() + " (use e.g. tcp://127.0.0.1:5555, or port * for a free one)");
  }
  m.endpoint = m.router.get(zmq::sockopt::last_endpoint);
  m.results_endpoint = fmt::format("inproc://spikechip-cosim-results-{}", static_cast<const void*>(this));
  m.results.bind(m.results_endpoint);
  // Workers must not take SIGINT/SIGTERM: the main thread's poll loop handles them.
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  m.pool = std::make_unique<WorkerPool>(m.ctx, m.results_endpoint, o.workers);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

Server::~Server() {
  if (impl_->pool) impl_->pool->stop();
}

std::string Server::endpoint() const { return impl_->endpoint; }

void Server::serve(const volatile std::sig_atomic_t* stop) { impl_->serve(stop); }

}  // namespace spikechip::cosim
