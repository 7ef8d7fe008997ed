#include "cosim/server.hpp"

#include <fmt/format.h>
#include <pthread.h>

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

#include "base/json_text.hpp"
#include "arch/chip_config.hpp"
#include "models/graph.hpp"
#include "cosim/protocol.hpp"
#include "cosim/requests.hpp"
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

// What a parsed header can take in memory per byte of its text (nlohmann::json values; about 27
// for [{},{},...], the worst shape measured): queued requests are charged this for their header.
constexpr size_t kParsedHeaderFactor = 32;

struct Pending {
  std::vector<std::string> envelope;  // routing id (+ empty delimiter for REQ clients)
  Message msg;
  Clock::time_point received;
  size_t bytes = 0;  // charged to the session's queue budget
};

struct Session {
  std::shared_ptr<SessionState> state = std::make_shared<SessionState>();
  std::deque<Pending> queue;
  size_t queued_bytes = 0;
  bool busy = false;
  uint64_t running = 0;  // seq of the request in flight (when busy)
  // The connection (a monitor id, not the fd) the client last sent from: its disconnect frees
  // the session. 0: unknown (a transport without connections, e.g. inproc; idle timeout only).
  uint64_t conn = 0;
  bool gone = false;  // freed while a request was in flight: erased when that request returns
  Clock::time_point last_active = Clock::now();
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

}  // namespace

// ---------------------------------------------------------------- the main loop

struct Server::Impl {
  ServerOptions opt;
  FrameLimits limits;
  zmq::context_t ctx{1};
  zmq::socket_t router{ctx, zmq::socket_type::router};
  zmq::socket_t results{ctx, zmq::socket_type::pull};
  zmq::socket_t monitor{ctx, zmq::socket_type::pair};  // the router's connection events
  std::string endpoint, results_endpoint;
  std::unique_ptr<WorkerPool> pool;
  std::optional<arch::ChipConfig> initial_chip;

  std::unordered_map<std::string, Session> sessions;
  std::map<uint64_t, InFlight> inflight;
  uint64_t next_seq = 1;
  bool stopping = false;
  // Open connections of the router: fd -> connection id (fds are reused, ids are not).
  std::unordered_map<int, uint64_t> conn_of_fd;
  uint64_t next_conn = 1;

  // counters (main thread only)
  Clock::time_point started = Clock::now();
  std::map<std::string, uint64_t> requests_by_type, errors_by_code, sessions_freed;
  uint64_t requests = 0, replies = 0, replies_dropped = 0, completed = 0, sessions_opened = 0;
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
      if (!envelope.empty()) {
        auto it = sessions.find(envelope.front());
        if (it != sessions.end()) free_session(it, "disconnect");
      }
    }
  }

  // Frees a session: its queued requests are dropped, a request in flight is cancelled and its
  // reply dropped (the session is erased when that request returns).
  void free_session(std::unordered_map<std::string, Session>::iterator it, const char* why) {
    Session& s = it->second;
    if (s.gone) return;
    ++sessions_freed[why];
    if (opt.verbose) log_line(fmt::format("session freed ({}), {} queued request(s) dropped", why, s.queue.size()));
    s.queue.clear();
    s.queued_bytes = 0;
    if (!s.busy) {
      sessions.erase(it);
      return;
    }
    s.gone = true;
    auto f = inflight.find(s.running);
    if (f != inflight.end()) {
      f->second.answered = true;
      f->second.cancel->store(true);
    }
  }

  // Connection events of the router socket (zmq_socket_monitor): a closed connection frees the
  // sessions of the clients that sent from it.
  void drain_monitor() {
    for (;;) {
      std::vector<zmq::message_t> ev;
      if (!zmq::recv_multipart(monitor, std::back_inserter(ev), zmq::recv_flags::dontwait)) return;
      if (ev.empty() || ev[0].size() < 6) continue;
      uint16_t event = 0;
      int32_t fd = -1;
      std::memcpy(&event, ev[0].data(), 2);
      std::memcpy(&fd, static_cast<const char*>(ev[0].data()) + 2, 4);
      if (event == ZMQ_EVENT_ACCEPTED) {
        conn_of_fd[fd] = next_conn++;
      } else if (event == ZMQ_EVENT_DISCONNECTED) {
        auto c = conn_of_fd.find(fd);
        if (c == conn_of_fd.end()) continue;
        const uint64_t conn = c->second;
        conn_of_fd.erase(c);
        for (auto it = sessions.begin(); it != sessions.end();) {
          auto next = std::next(it);
          if (it->second.conn == conn) free_session(it, "disconnect");
          it = next;
        }
      }
    }
  }

  // The connection a received message came from. Called after drain_monitor(), so every event
  // before the message is known: an fd without an open connection means the client is gone
  // (returns UINT64_MAX); a transport without fds (inproc) gives 0 (unknown).
  uint64_t connection_of(const zmq::message_t& frame) {
    const int fd = zmq_msg_get(const_cast<zmq_msg_t*>(frame.handle()), ZMQ_SRCFD);
    if (fd < 0) return 0;
    auto c = conn_of_fd.find(fd);
    return c == conn_of_fd.end() ? UINT64_MAX : c->second;
  }

  void send_error(const std::vector<std::string>& envelope, const json& id, const std::string& c, const std::string& msg,
                  const std::string& type) {
    ++errors_by_code[c];
    log_line(fmt::format("error {} for {} id {}: {}", c, type.empty() ? "?" : excerpt(type), excerpt(json_text(id)),
                         msg));
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
              {"max_header_bytes", opt.max_header_bytes},
              {"max_batch", opt.max_batch},
              {"max_timesteps", opt.max_timesteps},
              {"max_queued_per_client", opt.max_queued_per_client},
              {"max_sessions", opt.max_sessions},
              {"session_timeout_s", opt.session_timeout_s},
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
            {"sessions_opened", sessions_opened},
            {"sessions_freed", sessions_freed},
            {"workers", opt.workers}};
  }

  void on_request(std::vector<zmq::message_t>& frames) {
    ++requests;
    if (frames.size() < 2) return;  // a routing id alone: nothing to answer
    drain_monitor();  // connection events that precede this message
    const uint64_t conn = connection_of(frames.back());
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
    if (body.empty()) {
      ++requests_by_type["(invalid)"];
      return send_error(envelope, nullptr, code::kBadFrames, "empty message: expected a JSON header frame", "");
    }
    // The header is parsed only when small (limits.max_header_bytes); the id and type it names
    // are echoed in every error reply below.
    json h;
    try {
      h = parse_header(body[0], limits);
    } catch (const ProtocolError& e) {
      ++requests_by_type["(invalid)"];
      return send_error(envelope, nullptr, e.code(), e.what(), "");
    }
    const json id = header_id(h);
    const std::string type = h.contains("type") && h["type"].is_string() ? h["type"].get<std::string>() : "";
    ++requests_by_type[type.empty() ? "(invalid)" : excerpt(type, 32)];
    if (int64_t(bytes) > opt.max_message_bytes)
      return send_error(envelope, id, code::kTooLarge,
                        fmt::format("message of {} bytes exceeds --max-message-bytes {}", bytes, opt.max_message_bytes),
                        type);
    Message msg;
    try {
      msg = parse_message(std::move(h), body, limits);
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
      return send_error(envelope, id, code::kUnknownType,
                        "unknown request type '" + excerpt(type) + "' (known: " + list + ")", type);
    }
    if (conn == UINT64_MAX) return;  // the client disconnected after sending: nobody to answer
    auto it = sessions.find(envelope.front());
    if (it == sessions.end()) {
      if (int(sessions.size()) >= opt.max_sessions)
        return send_error(envelope, id, code::kBusy,
                          fmt::format("{} clients hold a session (--max-sessions); try again later", sessions.size()), type);
      it = sessions.try_emplace(envelope.front()).first;
      ++sessions_opened;
      if (initial_chip) it->second.state->chip = initial_chip;
    }
    Session& s = it->second;
    if (s.gone) return;  // freed, its last request still returning
    s.conn = conn;
    s.last_active = Clock::now();
    const size_t charge = bytes + body[0].size() * (kParsedHeaderFactor - 1);
    if (int(s.queue.size()) >= opt.max_queued_per_client ||
        (!s.queue.empty() && int64_t(s.queued_bytes + charge) > opt.max_message_bytes))
      return send_error(envelope, id, code::kBusy,
                        fmt::format("{} requests ({} bytes) already queued for this client; wait for replies",
                                    s.queue.size(), s.queued_bytes),
                        type);
    s.queued_bytes += charge;
    s.queue.push_back(Pending{std::move(envelope), std::move(msg), Clock::now(), charge});
    pump(it->first, s);
  }

  // Starts the session's next queued request if none is running.
  void pump(const std::string& key, Session& s) {
    if (s.busy || s.queue.empty() || stopping) return;
    Pending p = std::move(s.queue.front());
    s.queue.pop_front();
    s.queued_bytes -= p.bytes;
    s.busy = true;
    const uint64_t seq = next_seq++;
    s.running = seq;
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
        log_line(fmt::format("error {} for {} id {}: {}", status.substr(0, nl), f.type, excerpt(json_text(f.id)),
                             status.substr(nl + 1)));
      } else if (opt.verbose) {
        log_line(fmt::format("{} id {} done in {:.2f} ms", f.type, excerpt(json_text(f.id)),
                             1e3 * std::chrono::duration<double>(Clock::now() - f.start).count()));
      }
      send(f.envelope, std::move(frames), f.type);
    }
    auto s = sessions.find(f.session);
    if (s != sessions.end()) {
      if (s->second.gone) {
        sessions.erase(s);
        return;
      }
      s->second.busy = false;
      s->second.last_active = Clock::now();
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

  // Sessions without a request for --session-timeout seconds are freed.
  void expire_sessions() {
    const auto limit = std::chrono::duration<double>(opt.session_timeout_s);
    const auto now = Clock::now();
    for (auto it = sessions.begin(); it != sessions.end();) {
      auto next = std::next(it);
      const Session& s = it->second;
      if (!s.busy && s.queue.empty() && now - s.last_active > limit) free_session(it, "idle");
      it = next;
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
      std::vector<zmq::pollitem_t> items = {{router.handle(), 0, ZMQ_POLLIN, 0},
                                            {results.handle(), 0, ZMQ_POLLIN, 0},
                                            {monitor.handle(), 0, ZMQ_POLLIN, 0}};
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
      drain_monitor();
      check_deadlines();
      expire_sessions();
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
    // Queued and running requests get an answer; running runs stop at the next node / chip event.
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
  // !(x > 0) also refuses NaN; above 1e9 s (31 years) the deadline's nanoseconds would overflow.
  if (!(o.timeout_s > 0 && o.timeout_s <= 1e9)) throw UsageError("--timeout must be in (0, 1e9] seconds");
  if (o.max_message_bytes < 1024) throw UsageError("--max-message-bytes must be >= 1024");
  if (o.max_header_bytes < 1024) throw UsageError("--max-header-bytes must be >= 1024");
  if (o.max_batch < 1) throw UsageError("--max-batch must be >= 1");
  if (o.max_sessions < 1) throw UsageError("--max-sessions must be >= 1");
  if (!(o.session_timeout_s > 0 && o.session_timeout_s <= 1e9)) throw UsageError("--session-timeout must be in (0, 1e9] seconds");
  if (o.max_timesteps < 1 || o.max_timesteps > model::kMaxRunTimesteps)
    throw UsageError(fmt::format("--max-timesteps must be in 1..{}", model::kMaxRunTimesteps));
  m.limits.max_header_bytes = size_t(o.max_header_bytes);
  m.limits.max_tensor_bytes = o.max_message_bytes;
  if (!o.chip_path.empty()) m.initial_chip = arch::load_chip_config(o.chip_path);
  m.router.set(zmq::sockopt::router_mandatory, 1);
  // libzmq drops a peer that sends a larger frame (no reply possible); below that the server
  // answers too_large itself, so the guard sits well above the documented limit.
  m.router.set(zmq::sockopt::maxmsgsize, o.max_message_bytes * 2 + 65536);
  m.router.set(zmq::sockopt::linger, 1000);  // let final replies (shutdown) leave before close
  const std::string tag = fmt::format("{}", static_cast<const void*>(this));
  const std::string monitor_endpoint = "inproc://spikechip-cosim-monitor-" + tag;
  if (zmq_socket_monitor(m.router.handle(), monitor_endpoint.c_str(), ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0)
    throw Error(std::string("cannot monitor the server socket: ") + zmq_strerror(zmq_errno()));
  m.monitor.connect(monitor_endpoint);
  try {
    m.router.bind(o.bind);
  } catch (const zmq::error_t& e) {
    throw Error("cannot bind '" + o.bind + "': " + e.what() + " (use e.g. tcp://127.0.0.1:5555, or port * for a free one)");
  }
  m.endpoint = m.router.get(zmq::sockopt::last_endpoint);
  m.results_endpoint = "inproc://spikechip-cosim-results-" + tag;
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
