// Example SystemC platform (docs/systemc.md): the chip module (sim/chip_tlm.hpp) between a host
// driver (examples/systemc/host_driver.hpp) on its target socket and a TLM memory model
// (examples/systemc/tlm_memory.hpp) on its off-chip initiator socket, clocked by an sc_clock at
// the chip config's clock. Runs every input of a file with the mapping of `spikechip map` and
// writes what the host read back (prediction, latency, counters, output accumulators) as JSON,
// for comparison with `spikechip run --mapping` (tests/cpp/test_tlm_example.cpp).
//
//   spikechip_tlm_example --model DIR --chip CHIP.json --mapping MAP.json --input FILE
//                         [-T N] [--limit N] [--static-clock] [-o OUT.json]
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <systemc>

#include "arch/chip_config.hpp"
#include "host_driver.hpp"
#include "mapper/mapper.hpp"
#include "models/graph_io.hpp"
#include "models/inputs.hpp"
#include "sim/chip_tlm.hpp"
#include "base/error.hpp"
#include "tlm_memory.hpp"

namespace {

using namespace spikechip;

struct Args {
  std::string model, chip, mapping, input, out;
  int T = 0, limit = 0;
  bool static_clock = false;
};

constexpr const char* kUsage =
    "usage: spikechip_tlm_example --model DIR --chip CHIP.json --mapping MAP.json --input FILE [-T N] [--limit N] "
    "[-o OUT.json]\n";

int usage(const std::string& msg) {
  std::fprintf(stderr, "spikechip_tlm_example: %s\n%s", msg.c_str(), kUsage);
  return 2;
}

int run(const Args& a) {
  model::Graph g = model::load_model(a.model);
  const arch::ChipConfig chip = arch::load_chip_config(a.chip);
  const int T = a.T > 0 ? a.T : g.timesteps;
  g.timesteps = T;  // as `spikechip run -T`
  const mapper::Mapping m = mapper::load_mapping(a.mapping);
  if (const std::string why = mapper::mapping_model_mismatch(m, g); !why.empty()) throw Error(a.mapping + ": " + why);
  arch::ChipConfig as_mapped = chip;  // with the chip count `map --chips N` chose, as `spikechip run` checks
  if (m.options.contains("chips_x") && m.options.contains("chips_y"))
    as_mapped.chips.chips_x = m.options["chips_x"].get<int>(), as_mapped.chips.chips_y = m.options["chips_y"].get<int>();
  if (m.chip_hash != mapper::chip_hash(as_mapped))
    throw Error(a.mapping + ": the mapping was made for chip '" + m.chip_name + "', not " + a.chip);
  std::vector<model::InputItem> items = model::read_inputs(a.input, g);
  if (a.limit > 0 && items.size() > size_t(a.limit)) items.resize(size_t(a.limit));
  std::vector<example::HostInput> inputs;
  for (auto& it : items) inputs.push_back({std::move(it.data), it.frames, T});

  const sc_core::sc_time period(1e12 / chip.clock_hz, sc_core::SC_PS);
  // The chip's clock: an sc_clock, or (--static-clock) a signal nobody toggles, which the module
  // takes as the chip config's clock without the kernel events of every edge (docs/systemc.md).
  // An sc_clock costs its events even when nothing is bound to it: made only when used.
  std::unique_ptr<sc_core::sc_clock> clk;
  sc_core::sc_signal<bool> static_clk("static_clk");
  if (!a.static_clock) clk = std::make_unique<sc_core::sc_clock>("clk", period);
  sc_core::sc_signal<bool> rst("rst");
  sim::ChipTlm dut("chip", g, chip, m);
  // The weights image (its contents are the platform's business: the chip times the reloads and
  // computes with the model it was built from) plus room for the spill area.
  const arch::OffchipLayout& lay = dut.layout();
  example::TlmMemory dram("dram", std::vector<uint8_t>(lay.spill_base, 0), lay.spill_base + (uint64_t(1) << 30), period,
                          period * double(chip.dram.latency_cycles), uint64_t(chip.dram.bytes_per_cycle));
  example::HostDriver host("host", std::move(inputs), period * 1000.0);
  if (clk)
    dut.clk(*clk);
  else
    dut.clk(static_clk);
  dut.rst(rst);
  host.rst(rst);
  host.socket.bind(dut.host);
  dut.mem.bind(dram.socket);
  // The driver ends the simulation with sc_stop() (the clock would run forever): no banner for that.
  sc_core::sc_report_handler::set_actions("/OSCI/SystemC", sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  const auto t0 = std::chrono::steady_clock::now();
  const std::clock_t c0 = std::clock();
  sc_core::sc_start();
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu_s = double(std::clock() - c0) / CLOCKS_PER_SEC;

  nlohmann::json jin = nlohmann::json::array();
  bool failed = false;
  for (const auto& r : host.results()) {
    if (r.error) {
      std::cerr << "spikechip_tlm_example: chip error " << r.error << ": " << dut.error_message() << "\n";
      failed = true;
      continue;
    }
    jin.push_back({{"prediction", r.prediction}, {"latency_cycles", r.latency_cycles},
                   {"timestep_end_cycles", r.timestep_end_cycles}, {"output_acc", r.output_acc}, {"spikes", r.spikes},
                   {"sops", r.sops}, {"dram_bytes", r.dram_bytes}, {"polls", r.polls}});
  }
  const auto& n = dram.counters();
  const nlohmann::json out = {
      {"inputs", jin},
      {"memory", {{"reads", n.reads}, {"writes", n.writes}, {"read_bytes", n.read_bytes}, {"write_bytes", n.write_bytes}}},
      {"host_used_dmi", host.used_dmi()},
      {"sim_time_ps", sc_core::sc_time_stamp().value()},
      {"sim_wall_s", wall_s},
      {"sim_cpu_s", cpu_s}};
  if (a.out.empty()) {
    std::cout << out.dump(1) << "\n";
  } else {
    std::ofstream f(a.out);
    f << out.dump(1) << "\n";
    if (!f) throw Error(a.out + ": cannot write");
  }
  return failed || host.results().size() < items.size() ? 1 : 0;
}

}  // namespace

int sc_main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "-h" || k == "--help") {
      std::printf("The chip as a TLM-2.0 module between a host driver and a memory model (docs/systemc.md).\n%s", kUsage);
      return 0;
    }
    if (k == "--static-clock") {
      a.static_clock = true;
      continue;
    }
    if (i + 1 >= argc) return usage("missing value after " + k);
    const std::string v = argv[++i];
    try {
      if (k == "--model") a.model = v;
      else if (k == "--chip") a.chip = v;
      else if (k == "--mapping") a.mapping = v;
      else if (k == "--input") a.input = v;
      else if (k == "-o") a.out = v;
      else if (k == "-T") a.T = std::stoi(v);
      else if (k == "--limit") a.limit = std::stoi(v);
      else return usage("unknown option " + k);
    } catch (const std::exception&) {
      return usage("bad number for " + k + ": " + v);
    }
  }
  if (a.model.empty() || a.chip.empty() || a.mapping.empty() || a.input.empty())
    return usage("--model, --chip, --mapping and --input are required");
  try {
    return run(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "spikechip_tlm_example: %s\n", e.what());
    return 1;
  }
}
