// `spikechip noc`: the chip's network alone under synthetic traffic (BookSim-style experiment).
#include <cstdio>
#include <iostream>

#include <sys/resource.h>

#include <fmt/format.h>

#include "apps/cli.hpp"
#include "arch/chip_config.hpp"
#include "arch/noc/network.hpp"
#include "arch/noc/sweep.hpp"
#include "arch/noc/traffic.hpp"
#include "base/error.hpp"
#include "base/file_util.hpp"
#include "base/json_text.hpp"
#include "report/noc_curve.hpp"

namespace spikechip::cli {
namespace {

struct NocOptions {
  std::string chip;
  std::vector<std::string> sets;
  int width = 8, height = 8;
  std::string traffic = "uniform";
  double rate = 0.1;
  int packet_size = 4;
  uint64_t warmup = 1000, measure = 10000;
  std::string routing = "xy";
  int vcs = 2, buffer_depth = 4, pipeline = 2, link_latency = 1;
  int fanout = 1;
  std::string model = "separable";
  uint64_t seed = 1;
  std::string out;
  bool cpu_time = false;
  bool self_send = false;
  std::vector<int> hotspot_nodes;
  double hotspot_fraction = 0.2;
  std::string sweep_rates;  // FROM:TO:STEP: a latency-throughput curve instead of one run
  std::string plot;
};

// --sweep-rates: one run per load on a fresh network; the CSV to -o (or stdout), the plot to
// --plot (default: -o with .svg for .csv), a line per load on stderr as progress.
void run_sweep_command(const NocOptions& o, const arch::noc::NetworkParams& np, const arch::noc::TrafficParams& tp) {
  using namespace arch::noc;
  const std::vector<double> rates = parse_rate_range(o.sweep_rates, "--sweep-rates");
  for (double r : rates)
    if (r > tp.packet_size) throw UsageError("--sweep-rates: load " + fmt::format("{:g}", r) + " above packet_size flits/node/cycle");
  std::string plot = o.plot;
  if (plot.empty() && !o.out.empty()) {
    const size_t dot = o.out.rfind('.');
    plot = (dot != std::string::npos && o.out.find('/', dot) == std::string::npos ? o.out.substr(0, dot) : o.out) + ".svg";
  }
  if (!plot.empty() && !(plot.ends_with(".svg") || plot.ends_with(".html")))
    throw UsageError("--plot: '" + plot + "' must end in .svg or .html");
  if (!o.out.empty()) check_output_file(o.out);
  if (!plot.empty()) check_output_file(plot);
  const Sweep s = run_sweep(np, tp, rates, [&](size_t i, const SweepPoint& p) {
    std::cerr << fmt::format("[{}/{}] rate {:.4f}: latency {:.2f} accepted {:.4f}{}\n", i + 1, rates.size(), p.rate,
                             p.result.avg_latency, p.result.accepted, p.saturated ? " (saturated)" : "");
  });
  const std::string title = fmt::format("{}x{} {} {}-flit, {} VCs x {} flits, {} routing, pipeline {}", np.width, np.height,
                                        tp.pattern->name, tp.packet_size, np.vcs, np.buffer_depth, np.routing->name,
                                        np.pipeline_stages);
  const std::string csv = report::noc_curve_csv(s);
  if (o.out.empty()) std::cout << csv;
  else write_file_atomic(o.out, csv);
  if (!plot.empty())
    write_file_atomic(plot, plot.ends_with(".html") ? report::noc_curve_html(s, title) : report::noc_curve_svg(s, title));
  if (s.reached_saturation && s.saturation_index >= 0)
    std::cerr << fmt::format("saturation: {:.4f} flits/node/cycle accepted (offered {:.4f}); the next load saturated\n",
                             s.saturation_accepted(), s.points[size_t(s.saturation_index)].rate);
  else if (s.reached_saturation)
    std::cerr << "saturation: already at the lowest load\n";
  else
    std::cerr << "saturation: not reached within the loads swept\n";
}

void run_noc(const NocOptions& o, const CLI::App& cmd) {
  using namespace arch::noc;
  NetworkParams np;
  if (!o.chip.empty()) {
    np = NetworkParams::from_chip(arch::load_chip_config(o.chip, o.sets));
  }
  // Explicit flags override the chip file; without --chip they define the mesh.
  auto given = [&](const char* name) { return o.chip.empty() || cmd.count(name) > 0; };
  if (given("--width")) np.width = o.width, np.chip_width = 0;
  if (given("--height")) np.height = o.height, np.chip_height = 0;
  if (given("--vcs")) np.vcs = o.vcs;
  if (given("--buffer-depth")) np.buffer_depth = o.buffer_depth;
  if (given("--pipeline")) np.pipeline_stages = o.pipeline;
  if (given("--link-latency")) np.link_latency = o.link_latency;
  if (given("--router-model")) np.model = arch::noc::router_model(o.model);
  if (given("--routing")) {
    try {
      np.routing = &routing_function(o.routing);
    } catch (const Error& e) {
      throw UsageError(std::string("--routing: ") + e.what());
    }
  }
  TrafficParams tp;
  tp.pattern = &traffic_pattern(o.traffic);
  tp.rate = o.rate;
  tp.packet_size = o.packet_size;
  tp.warmup = o.warmup;
  tp.measure = o.measure;
  tp.multicast_fanout = o.fanout;
  tp.seed = o.seed;
  tp.self_send = o.self_send;
  tp.hotspot_nodes = o.hotspot_nodes;
  tp.hotspot_fraction = o.hotspot_fraction;
  if (o.self_send && tp.pattern->name != std::string("uniform")) throw UsageError("--self-send: only for --traffic uniform");
  if (cmd.count("--hotspot-nodes") + cmd.count("--hotspot-fraction") > 0 && tp.pattern->name != std::string("hotspot"))
    throw UsageError("--hotspot-nodes/--hotspot-fraction: only for --traffic hotspot");
  if (!o.sweep_rates.empty()) {
    if (cmd.count("--rate") > 0) throw UsageError("--rate and --sweep-rates exclude each other");
    run_sweep_command(o, np, tp);
    return;
  }
  if (!o.plot.empty()) throw UsageError("--plot: only with --sweep-rates");
  if (!o.out.empty()) check_output_file(o.out);
  // CPU time (user+sys) of the simulation alone, for scripts/bench/noc: excludes process start,
  // option parsing and writing the statistics.
  auto cpu_now = [] {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
  };
  const double cpu0 = cpu_now();
  Network net(np);
  const TrafficResult r = run_traffic(net, tp);
  const double cpu_s = cpu_now() - cpu0;
  const auto j = traffic_report(net, tp, r);
  std::cout << fmt::format(
      "noc {}x{} {} rate {:.4f}: latency avg {:.2f} p99 {:.0f} cycles; offered {:.4f} accepted {:.4f} "
      "flits/node/cycle; flits injected {} delivered {}; link flit-hops {}{}\n",
      np.width, np.height, tp.pattern->name, tp.rate, r.avg_latency, r.p99_latency, r.offered,
      r.accepted, r.totals.flits_injected, r.totals.flits_ejected, j["link_flit_hops"].get<uint64_t>(),
      r.drained ? "" : " (saturated: measured packets not drained)");
  // Opt-in: a timing changes from run to run, the default output stays byte-identical.
  if (o.cpu_time) std::cout << fmt::format("simulation cpu seconds {:.6f}\n", cpu_s);
  if (!o.out.empty()) write_file_atomic(o.out, json_text(j, 1) + "\n");
}

RegisterCommand reg(60, [](CLI::App& app) {
  auto o = std::make_shared<NocOptions>();
  auto* c = app.add_subcommand("noc", "Run the spike network alone under synthetic traffic");
  add_chip_options(c, o->chip, o->sets, false);  // mesh/router parameters; the flags below override them
  c->add_option("--width", o->width, "Mesh width (tiles)")->check(CLI::Range(1, 1024));
  c->add_option("--height", o->height, "Mesh height (tiles)")->check(CLI::Range(1, 1024));
  c->add_option("--traffic", o->traffic, fmt::format("{}", fmt::join(arch::noc::traffic_pattern_names(), "|")));
  c->add_option("--rate", o->rate, "Offered load, flits/node/cycle (Bernoulli per node per cycle)");
  c->add_option("--packet-size", o->packet_size, "Flits per packet (header + payload)")->check(CLI::Range(1, 1024));
  c->add_option("--warmup", o->warmup, "Warm-up cycles (not measured)")
      ->check(CLI::Range(0, 1000000000));  // -5 was 2^64-5 cycles: nothing measured, exit 0
  c->add_option("--measure", o->measure, "Measurement window, cycles")->check(CLI::Range(1, 1000000000));
  c->add_option("--routing", o->routing, fmt::format("{}", fmt::join(arch::noc::routing_names(), "|")));
  c->add_option("--router-model", o->model, "separable (BookSim2's iq router) | speculative | packet (packet-level, fast, docs/architecture.md)")
      ->check(CLI::IsMember(arch::noc::router_model_names()));
  c->add_option("--vcs", o->vcs, "Virtual channels per input port");
  c->add_option("--buffer-depth", o->buffer_depth, "Flits per VC buffer");
  c->add_option("--pipeline", o->pipeline, "Router pipeline stages (cycles per hop in the router)");
  c->add_option("--link-latency", o->link_latency, "Cycles per link");
  c->add_option("--multicast-fanout", o->fanout, "Destinations per packet (1 = unicast)");
  c->add_option("--seed", o->seed, "Random seed")->check(kNonNegative);
  c->add_flag("--self-send", o->self_send, "uniform: the source may be its own destination (BookSim2's convention)");
  c->add_option("--hotspot-nodes", o->hotspot_nodes, "hotspot: the hotspot node ids (default: the centre node)")->delimiter(',');
  c->add_option("--hotspot-fraction", o->hotspot_fraction, "hotspot: share of the packets sent to the hotspot nodes")
      ->check(CLI::Range(0.0, 1.0));
  c->add_option("--sweep-rates", o->sweep_rates,
                "FROM:TO:STEP: a latency-throughput curve (one run per load, stops past saturation); CSV to -o or stdout");
  c->add_option("--plot", o->plot, "--sweep-rates: plot file, .svg or .html (default: -o's name with .svg)");
  c->add_option("-o,--output", o->out, "Write statistics JSON here (with --sweep-rates: the CSV)");
  c->add_flag("--cpu-time", o->cpu_time, "Also print the CPU seconds of the simulation (network + traffic generation)");
  c->callback([o, c] { run_noc(*o, *c); });
});

}  // namespace
}  // namespace spikechip::cli
