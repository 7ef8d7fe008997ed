// Mapper benchmark (scripts/bench/mapper): traffic x hops of the optimised placement vs naive
// row-major and random placement of the same partition, and the mapping time, at 224x224.
#include <chrono>
#include <cstdio>

#include "arch/chip_config.hpp"
#include "mapper/mapper.hpp"
#include "models/meta_spikeformer.hpp"
#include "sim/strict_json.hpp"

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
    mapper::place_and_route(n, "naive", 1, false, 0);
    mapper::place_and_route(r, "random", 1, false, 0);
    double naive = mapper::traffic_hops(n), rnd = mapper::traffic_hops(r);
    std::printf("%s on %s: %zu groups on %d cores, %zu routes, mapping time %.2f s\n", c.name, c.preset,
                m.groups.size(), m.mesh_w * m.mesh_h, m.routes.size(), secs);
    std::printf("  traffic x hops (packet-hops/step): anneal %.4g, naive %.4g, random %.4g\n", opt, naive, rnd);
    std::printf("  anneal/naive = %.3f (%.1f %% lower), anneal/random = %.3f (%.1f %% lower)\n", opt / naive,
                100 * (1 - opt / naive), opt / rnd, 100 * (1 - opt / rnd));
    std::printf("  link traversals/step (multicast trees): anneal %.4g, naive %.4g\n",
                m.summary["link_traversals"].get<double>(), n.summary["link_traversals"].get<double>());
    ok = ok && opt <= 0.7 * naive && secs < 30;
  }
  std::printf(ok ? "targets met (>= 30 %% below naive, < 30 s)\n" : "TARGET MISSED\n");
  return ok ? 0 : 1;
}
