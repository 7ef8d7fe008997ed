#pragma once
// Writers of a latency-throughput curve (arch/noc/sweep.hpp): a CSV table and a plot (SVG, or
// an HTML page holding the SVG) of mean latency against offered load, the saturation point
// marked. Used by `spikechip noc --sweep-rates`.
#include <string>

#include "arch/noc/sweep.hpp"

namespace spikechip::report {

// rate,offered,accepted,latency_avg,latency_p99,latency_max,packets,drained,saturated
std::string noc_curve_csv(const arch::noc::Sweep& s);
// A self-contained SVG; `title` names the configuration.
std::string noc_curve_svg(const arch::noc::Sweep& s, const std::string& title);
// The SVG in a minimal HTML page (for a browser or a report folder).
std::string noc_curve_html(const arch::noc::Sweep& s, const std::string& title);

}  // namespace spikechip::report
