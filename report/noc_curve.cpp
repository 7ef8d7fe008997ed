// Latency-throughput curve writers (report/noc_curve.hpp).
#include "report/noc_curve.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace spikechip::report {

std::string noc_curve_csv(const arch::noc::Sweep& s) {
  std::string out = "rate,offered,accepted,latency_avg,latency_p99,latency_max,packets,drained,saturated\n";
  for (const auto& p : s.points) {
    const auto& r = p.result;
    out += fmt::format("{:.4f},{:.6f},{:.6f},{:.4f},{:.0f},{},{},{},{}\n", p.rate, r.offered, r.accepted, r.avg_latency,
                       r.p99_latency, r.max_latency, r.packets_measured, r.drained ? 1 : 0, p.saturated ? 1 : 0);
  }
  return out;
}

namespace {

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else if (c == '"') o += "&quot;";
    else o += c;
  }
  return o;
}

// A "nice" axis step (1, 2 or 5 x 10^k) giving about `ticks` intervals over [0, hi].
double nice_step(double hi, int ticks) {
  const double raw = hi / ticks, mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

}  // namespace

std::string noc_curve_svg(const arch::noc::Sweep& s, const std::string& title) {
  const double W = 640, H = 420, L = 70, R = 20, T = 40, B = 50;  // size and margins
  double xmax = 0, ymax = 0;
  for (const auto& p : s.points) {
    xmax = std::max({xmax, p.rate, p.result.accepted});
    ymax = std::max(ymax, p.result.avg_latency);
  }
  // A saturated point's latency can be far off the scale: cap the axis at 3x the last stable one.
  if (s.saturation_index >= 0)
    ymax = std::min(ymax, 3 * std::max(1.0, s.points[size_t(s.saturation_index)].result.avg_latency));
  const double xs = nice_step(std::max(xmax, 1e-3), 8), ys = nice_step(std::max(ymax, 1.0), 6);
  xmax = std::ceil(std::max(xmax, 1e-3) / xs) * xs;
  ymax = std::ceil(std::max(ymax, 1.0) / ys) * ys;
  auto X = [&](double v) { return L + (W - L - R) * v / xmax; };
  auto Y = [&](double v) { return H - B - (H - T - B) * std::min(v, ymax) / ymax; };
  std::string o = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">{}</text>\n",
      W, H, W, H, W / 2, escape(title));
  for (double v = 0; v <= xmax + xs / 2; v += xs)
    o += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#ddd\"/><text x=\"{0:.1f}\" y=\"{3}\" "
                     "text-anchor=\"middle\">{4:g}</text>\n",
                     X(v), T, H - B, H - B + 16, std::round(v / xs) * xs);
  for (double v = 0; v <= ymax + ys / 2; v += ys)
    o += fmt::format("<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"#ddd\"/><text x=\"{3}\" y=\"{4:.1f}\" "
                     "text-anchor=\"end\">{5:g}</text>\n",
                     L, Y(v), W - R, L - 6, Y(v) + 4, std::round(v / ys) * ys);
  o += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">offered load (flits/node/cycle)</text>\n", (L + W - R) / 2, H - 12);
  o += fmt::format("<text x=\"16\" y=\"{0}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {0})\">mean packet latency (cycles)</text>\n",
                   (T + H - B) / 2);
  std::string pts;
  for (const auto& p : s.points) pts += fmt::format("{:.1f},{:.1f} ", X(p.rate), Y(p.result.avg_latency));
  o += fmt::format("<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"{}\"/>\n", pts);
  for (const auto& p : s.points)
    o += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"><title>offered {:.4f}, accepted {:.4f}, latency {:.2f}</title></circle>\n",
                     X(p.rate), Y(p.result.avg_latency), p.saturated ? "#d62728" : "#1f77b4", p.rate, p.result.accepted,
                     p.result.avg_latency);
  if (s.saturation_index >= 0 && s.reached_saturation) {
    const double sat = s.saturation_accepted();
    o += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#d62728\" stroke-dasharray=\"6 4\"/>\n"
                     "<text x=\"{3:.1f}\" y=\"{4}\" text-anchor=\"end\" fill=\"#d62728\">saturation {5:.4f} flits/node/cycle</text>\n",
                     X(sat), T, H - B, X(sat) - 4, T + 14, sat);
  } else {
    o += fmt::format("<text x=\"{}\" y=\"{}\" fill=\"#d62728\">{}</text>\n", L + 8, T + 14,
                     s.reached_saturation ? "saturated at the lowest load" : "no saturation within the loads swept");
  }
  o += "</svg>\n";
  return o;
}

std::string noc_curve_html(const arch::noc::Sweep& s, const std::string& title) {
  return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + escape(title) + "</title></head><body>\n" +
         noc_curve_svg(s, title) + "</body></html>\n";
}

}  // namespace spikechip::report
