// `spikechip model build`, `spikechip infer`, `spikechip eval`: the golden executor's commands.
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include "apps/cli.hpp"
#include "models/executor.hpp"
#include "models/graph_io.hpp"
#include "report/golden_report.hpp"
#include "models/inputs.hpp"
#include "models/meta_spikeformer.hpp"
#include "models/safetensors.hpp"
#include "base/error.hpp"
#include "base/file_util.hpp"
#include "base/json_text.hpp"

namespace spikechip::cli {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void write_json(const std::string& path, const nlohmann::json& j) { write_file_atomic(path, json_text(j, 1) + "\n"); }

// ------------------------------------------------------------------------------- model build
struct BuildOptions {
  std::string variant;
  std::string input = "224";
  int channels = 3, classes = 1000, T = 1;
  std::vector<int> dims, blocks;
  uint64_t seed = 1;
  double rate = 0.2;
  bool kd = false;
  std::string out;
};

void run_build(const BuildOptions& o) {
  using namespace model;
  MetaSpikeFormerSpec s;
  if (!o.variant.empty()) s = meta_spikeformer_preset(o.variant);
  if (!o.dims.empty()) {
    if (o.dims.size() != 4) throw UsageError("--dims needs 4 comma-separated values, e.g. --dims 64,128,256,360");
    std::copy(o.dims.begin(), o.dims.end(), s.dims.begin());
    s.variant = "custom";
  } else if (o.variant.empty()) {
    throw UsageError("give --variant (15M, 31M, 55M, 123M) or --dims a,b,c,d");
  }
  if (!o.blocks.empty()) {
    if (o.blocks.size() != 2) throw UsageError("--blocks needs 2 values: stage-3 and stage-4 block counts");
    s.blocks3 = o.blocks[0], s.blocks4 = o.blocks[1];
  }
  int h = 0, w = 0;
  char x = 0;
  std::istringstream in(o.input);
  if (!(in >> h) || (in >> x && (x != 'x' || !(in >> w)))) throw UsageError("--input must be N or HxW, got '" + o.input + "'");
  s.height = h, s.width = w ? w : h;
  s.in_channels = o.channels, s.num_classes = o.classes, s.T = o.T, s.kd = o.kd;
  const auto t0 = Clock::now();
  Graph g = build_meta_spikeformer(s, o.seed, o.rate);
  const double dt = seconds_since(t0);
  validate_graph(g, o.out + "/" + kGraphFile);
  save_model(g, o.out);
  int64_t folded = 0, dense = 0, lif = 0;
  for (const Node& n : g.nodes) {
    folded += folded_params(n), dense += dense_ops(g, n);
    if (n.op == Op::LIF) lif += n.shape.size();
  }
  std::cout << fmt::format(
      "built {} ({} nodes): input {}x{}x{}, T = {}, {} classes\n"
      "  float parameters {} (unfolded PyTorch), folded integer parameters {}\n"
      "  dense ops per timestep {:.4f} G, LIF neurons {}\n"
      "  thresholds calibrated for firing rate {} in {:.2f} s (seed {})\n  -> {}\n",
      g.name, g.nodes.size(), s.in_channels, s.height, s.width, s.T, s.num_classes, float_param_count(s), folded,
      double(dense) / 1e9, lif, o.rate, dt, o.seed, o.out);
}

// ------------------------------------------------------------------------------------- infer
struct InferOptions {
  std::string model, report, dump, dump_inputs;
  InputFlags in;
  int T = 0, threads = 2;
};

// Which inputs --dump-spikes records: "" (no --dump-inputs) the first; "all"; or indices "0,3,7".
std::vector<size_t> dump_selection(const std::string& spec, size_t n) {
  std::vector<size_t> sel;
  if (spec.empty() || spec == "first") return {0};
  if (spec == "all") {
    for (size_t k = 0; k < n; ++k) sel.push_back(k);
    return sel;
  }
  std::istringstream in(spec);
  std::string tok;
  while (std::getline(in, tok, ',')) {
    size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(tok, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != tok.size() || tok.empty() || v < 0)
      throw UsageError("--dump-inputs takes first, all or input indices a,b,c; got '" + spec + "'");
    if (size_t(v) >= n)
      throw UsageError("--dump-inputs " + spec + ": input " + std::to_string(v) + " does not exist (" + std::to_string(n) +
                       " inputs, indices 0.." + std::to_string(n - 1) + ")");
    if (std::find(sel.begin(), sel.end(), size_t(v)) == sel.end()) sel.push_back(size_t(v));
  }
  std::sort(sel.begin(), sel.end());
  return sel;
}

// --dump-spikes: one U8 tensor per LIF node, [T, C, H, W] for the first input (no --dump-inputs),
// else [N, T, C, H, W] over the N selected inputs in index order (docs/golden.md).
class SpikeDump {
 public:
  SpikeDump(const model::Graph& g, std::vector<size_t> sel, bool batched, int T)
      : g_(g), sel_(std::move(sel)), batched_(batched), T_(T) {
    int64_t per = 0;
    for (const auto& n : g.nodes)
      if (n.op == model::Op::LIF) per += int64_t(T) * n.shape.size();
    if (per * int64_t(sel_.size()) > (int64_t(4) << 30))
      throw UsageError(fmt::format("--dump-inputs: {} inputs x {} spike bytes each is over 4 GiB: select fewer inputs",
                                   sel_.size(), per));
    data_.resize(g.nodes.size());
  }
  bool wants(size_t k) const { return std::binary_search(sel_.begin(), sel_.end(), k); }
  void add(size_t k, const model::RunResult& r, const model::InputItem& item) {
    for (size_t i = 0; i < g_.nodes.size(); ++i)
      if (g_.nodes[i].op == model::Op::LIF) data_[i].insert(data_[i].end(), r.spikes[i].begin(), r.spikes[i].end());
    input_.insert(input_.end(), item.data.begin(), item.data.end());
    frames_ = item.frames;
    inputs_.push_back({{"index", k}, {"origin", item.origin}});
  }
  void write(const std::string& path) const {
    using namespace model;
    SafeTensors st;
    const int64_t N = int64_t(sel_.size());
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
      const Node& n = g_.nodes[i];
      if (n.op != Op::LIF) continue;
      std::vector<int64_t> shape{T_, n.shape.c, n.shape.h, n.shape.w};
      if (batched_) shape.insert(shape.begin(), N);
      st.tensors[n.name] = from_vector(data_[i], shape);
    }
    st.metadata = {{"model", g_.name}, {"timesteps", std::to_string(T_)}};
    if (batched_) {
      // What the model saw (after decoding, the image transform or float conversion): [N, F, C, H, W].
      const Shape& s = g_.input().shape;
      st.tensors[g_.input().name] = from_vector(input_, {N, frames_, s.c, s.h, s.w});
      st.metadata["inputs"] = json_text(inputs_);
      st.metadata["layout"] = "one U8 tensor per LIF node, [N, T, C, H, W], and the Input node's u8 input, [N, F, C, H, W] (F = 1 for an "
          "image, T for events); N = the inputs listed in 'inputs' (index, origin), in that order";
    } else {
      st.metadata["input"] = inputs_[0]["origin"].get<std::string>();
      st.metadata["layout"] = "one U8 tensor per LIF node, [T, C, H, W]";
    }
    write_safetensors(path, st);
  }

 private:
  const model::Graph& g_;
  std::vector<size_t> sel_;
  bool batched_;
  int T_;
  std::vector<std::vector<uint8_t>> data_;
  std::vector<uint8_t> input_;
  int64_t frames_ = 1;
  nlohmann::json inputs_ = nlohmann::json::array();
};

void run_infer(const InferOptions& o) {
  using namespace model;
  const Graph g = load_model(o.model);
  const std::vector<InputItem> items = read_inputs(o.in.input, g, o.in.options());
  if (items.empty()) throw Error("'" + o.in.input + "' holds no inputs");
  const int T = o.T > 0 ? o.T : g.timesteps;
  if (!o.dump_inputs.empty() && o.dump.empty()) throw UsageError("--dump-inputs needs --dump-spikes FILE");
  if (!o.report.empty()) check_output_file(o.report);
  if (!o.dump.empty()) check_output_file(o.dump);
  std::optional<SpikeDump> dump;
  if (!o.dump.empty()) dump.emplace(g, dump_selection(o.dump_inputs, items.size()), !o.dump_inputs.empty(), T);
  GoldenExecutor ex(g);
  std::vector<RunResult> runs;
  std::vector<report::ReportOptions> ropts;
  double total_s = 0;
  for (size_t k = 0; k < items.size(); ++k) {
    const auto t0 = Clock::now();
    const bool record = dump && dump->wants(k);
    RunResult r = ex.run_item(items[k], T, RunOptions{o.threads, record});
    const double dt = seconds_since(t0);
    total_s += dt;
    if (record) {
      dump->add(k, r, items[k]);
      r.spikes.clear();
    }
    int64_t spikes = 0, neurons = 0, sops = 0, macs = 0, sd = 0, sat = 0;
    for (size_t i = 0; i < g.nodes.size(); ++i)
      for (const auto& s : r.stats[i]) {
        spikes += s.spikes, sops += s.sops, macs += s.macs, sd += s.sdsa_ops, sat += s.saturations;
        if (g.nodes[i].op == Op::LIF) neurons += g.nodes[i].shape.size();
      }
    const double e = kEnergyMacPj * double(macs) + kEnergyAcPj * double(sops + sd);
    std::cout << fmt::format(
        "{}: prediction {}{}, spikes {} (rate {:.4f}), SOPs {}, MACs {}, SDSA ops {}, paper energy {:.3f} uJ, "
        "saturations {}, {:.3f} s\n",
        items[k].origin, r.prediction, items[k].label >= 0 ? fmt::format(" (label {})", items[k].label) : "", spikes,
        neurons ? double(spikes) / double(neurons) : 0.0, sops, macs, sd, e * 1e-6, sat, dt);
    runs.push_back(std::move(r));
    ropts.push_back({items[k].origin, items[k].label});
  }
  std::cout << fmt::format("inference time: {:.4f} s per input (T = {}, {} threads, {} inputs)\n",
                           total_s / double(items.size()), T, o.threads, items.size());
  if (dump) dump->write(o.dump);
  if (!o.report.empty()) write_json(o.report, report::make_golden_report(g, runs, ropts));
}

// -------------------------------------------------------------------------------------- eval
struct EvalOptions {
  std::string model, dataset = "fashion-mnist", input, out;
  int limit = 0, T = 0, threads = 2;
};

// The labelled inputs of `spikechip eval`: the --input file (every item must carry a label: an
// .npz "labels" array, a .npy sidecar .json, or a labels file) or the Fashion-MNIST test set.
std::vector<model::InputItem> eval_items(const EvalOptions& o, const model::Graph& g) {
  using namespace model;
  if (o.input.empty()) {
    if (o.dataset != "fashion-mnist") throw UsageError("unknown --dataset '" + o.dataset + "' (known: fashion-mnist)");
    if (g.input().shape.c != 1)
      throw Error("model '" + o.model + "' takes " + std::to_string(g.input().shape.c) +
                  " input channels; Fashion-MNIST has 1: build or export the model with --channels 1, or give "
                  "labelled inputs with --input (e.g. event frames from scripts/make_fmnist_events --frames)");
    return fashion_mnist_test_set(o.limit, g.input().shape);
  }
  std::vector<InputItem> items = read_inputs(o.input, g);
  if (o.limit > 0 && size_t(o.limit) < items.size()) items.resize(size_t(o.limit));
  for (const auto& it : items)
    if (it.label < 0)
      throw Error(it.origin + ": no label: eval needs one per input (an integer array 'labels' in the .npz, a "
                  "sidecar .json with \"labels\" beside an .npy, or --labels on a directory)");
  return items;
}

void run_eval(const EvalOptions& o) {
  using namespace model;
  const Graph g = load_model(o.model);
  const std::vector<InputItem> items = eval_items(o, g);
  if (!o.out.empty()) check_output_file(o.out);
  const int T = o.T > 0 ? o.T : g.timesteps;
  const int workers = std::max(1, std::min<int>(o.threads, int(items.size())));
  std::vector<RunResult> runs(items.size());
  std::atomic<size_t> next{0}, done{0};
  const auto t0 = Clock::now();
  // Inputs are independent: one executor per worker, results stored by index (deterministic).
  auto work = [&](int wid) {
    GoldenExecutor ex(g);
    for (size_t k; (k = next++) < items.size();) {
      runs[k] = ex.run_item(items[k], T, RunOptions{1, false});
      const size_t d = ++done;
      if (wid == 0 && !quiet() && (d % 50 == 0 || d == items.size()))
        std::cerr << fmt::format("\r[{}/{}] {:.1f} s", d, items.size(), seconds_since(t0)) << std::flush;
    }
  };
  std::vector<std::thread> ts;
  for (int w = 1; w < workers; ++w) ts.emplace_back(work, w);
  work(0);
  for (auto& t : ts) t.join();
  if (!quiet()) std::cerr << "\n";
  int64_t correct = 0;
  std::vector<report::ReportOptions> ropts;
  for (size_t k = 0; k < items.size(); ++k) {
    correct += runs[k].prediction == items[k].label;
    ropts.push_back({items[k].origin, items[k].label});
  }
  const double acc = double(correct) / double(items.size());
  std::cout << fmt::format("top-1 accuracy {:.2f} % ({} / {}), T = {}, {:.1f} s\n", 100 * acc, correct, items.size(),
                           T, seconds_since(t0));
  if (!o.out.empty()) {
    nlohmann::json j = report::make_golden_report(g, runs, ropts);
    j["schema"] = "spikechip.golden-eval/1";
    j["eval"] = {{"dataset", o.input.empty() ? o.dataset : o.input}, {"count", items.size()}, {"correct", correct}, {"top1_accuracy", acc}};
    write_json(o.out, j);
  }
}

const RegisterCommand reg_build(20, [](CLI::App& app) {
  auto o = std::make_shared<BuildOptions>();
  CLI::App* c = command_group(app, "model", "Build and inspect spikechip models")->add_subcommand("build", "Build a Meta-SpikeFormer graph with synthetic weights");
  c->add_option("--variant", o->variant, "15M, 31M, 55M, 123M (or 8_384, 8_512, 8_768)");
  c->add_option("--input", o->input, "input size N or HxW")->capture_default_str();
  c->add_option("--channels", o->channels, "input channels")->capture_default_str();
  c->add_option("--classes", o->classes, "number of classes")->capture_default_str();
  c->add_option("-T,--timesteps", o->T, "default timesteps stored in the model")->capture_default_str();
  c->add_option("--dims", o->dims, "embedding dims a,b,c,d (overrides --variant)")->delimiter(',');
  c->add_option("--blocks", o->blocks, "blocks in stage 3 and 4, n3,n4")->delimiter(',');
  c->add_option("--seed", o->seed, "weight seed")->capture_default_str()->check(kNonNegative);
  c->add_option("--rate", o->rate, "target firing rate of every LIF")->capture_default_str();
  c->add_flag("--kd", o->kd, "count the distillation head in the float parameters");
  c->add_option("-o,--output", o->out, "model directory to write")->required();
  c->callback([o] { run_build(*o); });
});

const RegisterCommand reg_infer(30, [](CLI::App& app) {
  auto o = std::make_shared<InferOptions>();
  CLI::App* c = app.add_subcommand("infer", "Run the golden (bit-exact) executor on inputs");
  c->add_option("--model", o->model, "model directory")->required();
  add_input_options(c, o->in);
  c->add_option("-T,--timesteps", o->T, fmt::format("timesteps, 1..{} (default: the model's)", model::kMaxRunTimesteps))
      ->check(CLI::Range(1, model::kMaxRunTimesteps))
      ->default_str("the model's");
  c->add_option("-o,--output", o->report, "JSON report to write");
  c->add_option("--dump-spikes", o->dump,
                "safetensors file: every LIF's spikes as u8, [T,C,H,W] for the first input, or [N,T,C,H,W] for the "
                "inputs --dump-inputs selects");
  c->add_option("--dump-inputs", o->dump_inputs, "inputs --dump-spikes records: first | all | indices a,b,c (0-based)");
  c->add_option("--threads", o->threads, "worker threads")->capture_default_str()->check(CLI::Range(1, 64));
  c->callback([o] { run_infer(*o); });
});

const RegisterCommand reg_eval(31, [](CLI::App& app) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* c = app.add_subcommand("eval", "Top-1 accuracy of the golden executor on a test set");
  c->add_option("--model", o->model, "model directory")->required();
  CLI::Option* dataset = c->add_option("--dataset", o->dataset, "fashion-mnist (its 10,000 test images)")->capture_default_str();
  c->add_option("--input", o->input,
                "labelled inputs instead of --dataset: a file or directory as for infer, every item labelled (.npz "
                "'labels' array, .npy sidecar .json, or labels.txt), e.g. event frames of "
                "scripts/make_fmnist_events --frames")
      ->excludes(dataset);
  c->add_option("--limit", o->limit, "first N inputs (0: all)")->capture_default_str()->check(kNonNegative);
  c->add_option("-T,--timesteps", o->T, fmt::format("timesteps, 1..{} (default: the model's)", model::kMaxRunTimesteps))
      ->check(CLI::Range(1, model::kMaxRunTimesteps))
      ->default_str("the model's");
  c->add_option("-o,--output", o->out, "JSON report to write");
  c->add_option("--threads", o->threads, "worker threads")->capture_default_str()->check(CLI::Range(1, 64));
  c->callback([o] { run_eval(*o); });
});

}  // namespace
}  // namespace spikechip::cli
