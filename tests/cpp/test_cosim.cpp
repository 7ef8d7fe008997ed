// The co-simulation server as a real process, driven by a cppzmq DEALER client (docs/cosim.md).
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <zmq_addon.hpp>

#include "cosim/protocol.hpp"
#include "models/executor.hpp"
#include "models/graph_io.hpp"
#include "models/meta_spikeformer.hpp"
#include "tiny_graph.hpp"

extern char** environ;

namespace {
using nlohmann::json;
namespace fs = std::filesystem;

struct ServerProcess {
  pid_t pid = -1;
  std::string endpoint;
  ServerProcess() {
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    const std::string bin_path = spikechip::testing::spikechip_binary();
    const char* bin = bin_path.c_str();
    std::vector<std::string> args = {bin, "serve", "--bind", "tcp://127.0.0.1:*", "--workers", "2"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid, bin, &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    FILE* f = fdopen(fds[0], "r");
    char line[256] = {};
    EXPECT_TRUE(fgets(line, sizeof line, f));
    fclose(f);
    std::string s(line);
    EXPECT_EQ(s.rfind("listening on ", 0), 0u) << s;
    endpoint = s.substr(13, s.find_last_not_of("\n") - 12);
  }
  int wait_exit() {
    int st = 0;
    waitpid(pid, &st, 0);
    pid = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
  ~ServerProcess() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

struct Client {
  zmq::context_t ctx;
  zmq::socket_t s{ctx, zmq::socket_type::dealer};
  int next = 1;
  explicit Client(const std::string& ep) {
    s.set(zmq::sockopt::rcvtimeo, 20000);
    s.set(zmq::sockopt::linger, 0);
    s.connect(ep);
  }
  json request(json h, std::vector<spikechip::cosim::NamedTensor> tensors = {}) {
    h["id"] = next++;
    if (!h.contains("protocol")) h["protocol"] = spikechip::cosim::kProtocolVersion;
    spikechip::cosim::Message m{h, std::move(tensors)};
    return raw(spikechip::cosim::encode_message(m));
  }
  json raw(std::vector<zmq::message_t> frames) {
    zmq::send_multipart(s, frames);
    std::vector<zmq::message_t> reply;
    EXPECT_TRUE(zmq::recv_multipart(s, std::back_inserter(reply)));
    return json::parse(reply.at(0).to_string());
  }
};

TEST(Cosim, RoundTripBadInputAndShutdown) {
  using namespace spikechip::model;
  MetaSpikeFormerSpec spec;
  spec.dims = {8, 16, 16, 16};
  spec.blocks3 = 1, spec.blocks4 = 1, spec.in_channels = 1, spec.height = 16, spec.width = 16;
  spec.num_classes = 10;
  const Graph g = build_meta_spikeformer(spec, 7);
  const fs::path dir = fs::temp_directory_path() / ("spikechip_cosim_" + std::to_string(getpid()));
  save_model(g, dir.string());

  ServerProcess server;
  Client c(server.endpoint);
  json h = c.request({{"type", "hello"}});
  EXPECT_EQ(h["type"], "hello");
  EXPECT_EQ(h["protocol"], 1);
  json m = c.request({{"type", "load_model"}, {"path", dir.string()}});
  ASSERT_EQ(m["type"], "model_loaded") << m.dump();

  // The server's run equals the executor in this process.
  std::vector<uint8_t> x(2 * 16 * 16);
  for (size_t i = 0; i < x.size(); ++i) x[i] = uint8_t(i * 37 % 251);
  spikechip::cosim::NamedTensor t{"x", from_vector(x, {2, 1, 16, 16})};
  json r = c.request({{"type", "run"}, {"T", 2}}, {t});
  ASSERT_EQ(r["type"], "run_result") << r.dump();
  GoldenExecutor ex(g);
  for (int k = 0; k < 2; ++k) {
    const RunResult rr = ex.run(InputView{x.data() + k * 256, 1, g.input().shape}, 2);
    EXPECT_EQ(r["predictions"][k], rr.prediction);
    EXPECT_EQ(r["report"]["inputs"][k]["output_acc"].get<std::vector<int64_t>>(), rr.output_acc);
  }

  // Bad input: error replies, the server keeps serving.
  std::vector<zmq::message_t> bad;
  bad.emplace_back(std::string("{\"type\": \"hello\""));
  EXPECT_EQ(c.raw(std::move(bad))["code"], "bad_json");
  EXPECT_EQ(c.request({{"type", "teleport"}})["code"], "unknown_type");
  EXPECT_EQ(c.request({{"type", "hello"}, {"protocol", 2}})["code"], "protocol_mismatch");
  spikechip::cosim::NamedTensor wrong{"x", from_vector(std::vector<uint8_t>(9), {1, 1, 3, 3})};
  EXPECT_EQ(c.request({{"type", "run"}}, {wrong})["code"], "bad_tensor");
  spikechip::cosim::NamedTensor w{"head.weight", from_vector(std::vector<int8_t>(3), {3})};
  EXPECT_EQ(c.request({{"type", "update_weights"}}, {w})["code"], "bad_tensor");
  json s = c.request({{"type", "stats"}});
  EXPECT_EQ(s["errors_by_code"]["bad_tensor"], 2);
  EXPECT_EQ(s["requests_by_type"]["run"], 2);

  EXPECT_EQ(c.request({{"type", "shutdown"}})["type"], "shutdown");
  EXPECT_EQ(server.wait_exit(), 0);
  fs::remove_all(dir);
}

// Issue 18 defect 5: the byte count of a tensor is computed with overflow checks and bounded by
// the limit before any frame is compared; the header frame is refused above its limit unparsed.
TEST(CosimProtocol, ShapeByteCountIsCheckedAndHeaderLimited) {
  using spikechip::cosim::FrameLimits;
  using spikechip::cosim::ProtocolError;
  auto parse = [](const json& shape, size_t frame_bytes, const FrameLimits& lim = {}) -> std::string {
    json h = {{"type", "run"}, {"id", 1}, {"protocol", 1}, {"tensors", {{{"name", "x"}, {"dtype", "int32"}, {"shape", shape}}}}};
    std::vector<zmq::message_t> body;
    body.emplace_back(h.dump());
    body.emplace_back(frame_bytes);
    try {
      spikechip::cosim::parse_message(body, lim);
      return "ok";
    } catch (const ProtocolError& e) {
      return e.code();
    }
  };
  const uint64_t p40 = uint64_t(1) << 40, p62 = uint64_t(1) << 62, p63 = uint64_t(1) << 63;
  EXPECT_EQ(parse({p40, p40}, 0), "too_large");  // was 2^82 bytes wrapped to 0: accepted
  EXPECT_EQ(parse({p62, 4}, 0), "too_large");
  EXPECT_EQ(parse({p63 - 1, 2}, 0), "too_large");
  EXPECT_EQ(parse({uint64_t(1) << 32, uint64_t(1) << 32, uint64_t(1) << 32}, 0), "too_large");
  EXPECT_EQ(parse({0, p62}, 0), "ok");
  EXPECT_EQ(parse({p63}, 0), "bad_tensor");
  EXPECT_EQ(parse({-1}, 0), "bad_tensor");
  EXPECT_EQ(parse({2, 3}, 24), "ok");
  EXPECT_EQ(parse({2, 3}, 23), "bad_tensor");
  FrameLimits small;
  small.max_tensor_bytes = 20;
  EXPECT_EQ(parse({2, 3}, 24, small), "too_large");
  small.max_header_bytes = 16;
  std::vector<zmq::message_t> big;
  big.emplace_back(std::string(17, '['));
  try {
    spikechip::cosim::parse_message(big, small);
    ADD_FAILURE() << "a header over the limit was parsed";
  } catch (const ProtocolError& e) {
    EXPECT_EQ(e.code(), "too_large");
  }
}

}  // namespace
