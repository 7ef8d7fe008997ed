// Mapper benchmark (scripts/bench/mapper): traffic x hops of the optimised placement vs naive
// row-major and random placement of the same partition, and the mapping time, at 224x224.
#include <chrono>
#include <cstdio>

#include "arch/chip_config.hpp"
#include "mapper/mapper.hpp"
#include "models/meta_spikeformer.hpp"
#include "base/strict_json.hpp"
#include "spikechip/source_dir.hpp"

using namespace spikechip;

int main() {
  struct Case {
    const char* name;
    const char* spec;
    const char* preset;
  };
  const Case cases[] = {{"15.1M", "15M", "meta15m"}, {"55.4M", "55M", "meta55m"}};
  bool ok = true;
  for (const Case& c : cases) {
    std::string path = std::string(SPIKECHIP_SOURCE_DIR) + "/arch/presets/" + c.preset + ".json";
    arch::ChipConfig chip = arch::chip_config_from_json(read_json_file(path, "chip"), path);
    // Structure-only build (weights drawn, thresholds not calibrated): the mapper reads no weights.
    model::Graph g = model::build_meta_spikeformer_structure(model::meta_spikeformer_preset(c.spec), 1);
    auto t0 = std::chrono::steady_clock::now();
    mapper::Mapping m = mapper::map_model(g, chip, {});
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double opt = mapper::traffic_hops(m);
    mapper::Mapping n = m, r = m;
    mapper::place_and_route(n, "naive", 1, false, 0, arch::noc::routing_function("xy"));
    mapper::place_and_route(r, "random", 1, false, 0, arch::noc::routing_function("xy"));
    double naive = mapper::traffic_hops(n), rnd = mapper::traffic_hops(r);
    // METIS recursive bisection alone and refined by the annealer, on the same partition.
    mapper::Mapping mt = m, ma = m;
    auto t1 = std::chrono::steady_clock::now();
    mapper::place_and_route(mt, "metis", 1, false, 0, arch::noc::routing_function("xy"));
    double metis_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    t1 = std::chrono::steady_clock::now();
    mapper::place_and_route(ma, "metis-anneal", 1, false, 400, arch::noc::routing_function("xy"));
    double ma_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    double metis = mapper::traffic_hops(mt), metis_anneal = mapper::traffic_hops(ma);
    std::printf("%s on %s: %zu groups on %d cores, %zu routes, mapping time %.2f s\n", c.name, c.preset,
                m.groups.size(), m.mesh_w * m.mesh_h, m.routes.size(), secs);
    std::printf("  traffic x hops (packet-hops/step): anneal %.4g, naive %.4g, random %.4g\n", opt, naive, rnd);
    std::printf("  anneal/naive = %.3f (%.1f %% lower), anneal/random = %.3f (%.1f %% lower)\n", opt / naive,
                100 * (1 - opt / naive), opt / rnd, 100 * (1 - opt / rnd));
    std::printf("  metis %.4g (metis/naive = %.3f, %.2f s), metis-anneal %.4g (/naive = %.3f, /anneal = %.3f, %.2f s)\n",
                metis, metis / naive, metis_s, metis_anneal, metis_anneal / naive, metis_anneal / opt, ma_s);
    std::printf("  link traversals/step (multicast trees): anneal %.4g, naive %.4g\n",
                m.summary["link_traversals"].get<double>(), n.summary["link_traversals"].get<double>());
    ok = ok && opt <= 0.7 * naive && secs < 30;
  }
  {
    // Time multiplexing: 55.4M on the 15.1M preset (does not fit without it).
    std::string path = std::string(SPIKECHIP_SOURCE_DIR) + "/arch/presets/meta15m.json";
    arch::ChipConfig chip = arch::chip_config_from_json(read_json_file(path, "chip"), path);
    model::Graph g = model::build_meta_spikeformer_structure(model::meta_spikeformer_preset("55M"), 1);
    mapper::MapOptions o;
    o.time_multiplex = true;
    auto t0 = std::chrono::steady_clock::now();
    try {
      mapper::Mapping m = mapper::map_model(g, chip, o);
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("55.4M on meta15m --time-multiplex: %zu groups in %zu phases on %d cores, %.2f s\n", m.groups.size(),
                  m.phases.size(), m.mesh_w * m.mesh_h, secs);
      std::printf("  DRAM per inference: %.4g weight bytes reloaded, %.4g spilled bytes read back\n",
                  double(m.summary["dram_reload_bytes_per_inference"].get<int64_t>()),
                  m.summary["dram_spill_bytes_per_inference"].get<double>());
    } catch (const std::exception& e) {
      std::printf("55.4M on meta15m --time-multiplex: %s\n", e.what());
    }
  }
  std::printf(ok ? "targets met (>= 30 %% below naive, < 30 s)\n" : "TARGET MISSED\n");
  return ok ? 0 : 1;
}
