#pragma once
// The critical-path invariants (docs/reports.md, "Critical path") checked on any complete run:
// the segments are contiguous from cycle 0 to the latency (so they sum to it exactly), none is
// unexplained, and every node-unit segment lies in a task of that core, layer and timestep.
#include <gtest/gtest.h>

#include "arch/chip.hpp"

namespace spikechip::testing {

inline void expect_exact_critical_path(const arch::ChipRunResult& r) {
  ASSERT_TRUE(r.complete);
  ASSERT_FALSE(r.critical_path.empty());
  uint64_t at = 0, sum = 0;
  for (size_t i = 0; i < r.critical_path.size(); ++i) {
    const arch::PathSegment& s = r.critical_path[i];
    EXPECT_EQ(s.start, at) << "segment " << i << " (" << arch::path_kind_name(s.kind) << ") does not start where the previous ended";
    EXPECT_LT(s.start, s.end) << "segment " << i;
    EXPECT_NE(s.kind, arch::PathKind::Other) << "unexplained gap " << s.start << ".." << s.end;
    sum += s.end - s.start, at = s.end;
    if (s.kind == arch::PathKind::Node || s.kind == arch::PathKind::Sdsa) {
      // It starts in (or, for a Mean's partial sums, right after) a task of the timeline.
      bool found = false;
      for (const auto& e : r.timeline)
        found = found || (e.core == s.core && e.node == s.node && e.timestep == s.timestep && e.start <= s.start && s.start <= e.end);
      EXPECT_TRUE(found || r.timeline_truncated) << "node-unit segment " << i << " starts in no task of its layer";
    }
  }
  EXPECT_EQ(sum, r.latency_cycles) << "the critical path's segments sum to the latency";
  EXPECT_EQ(at, r.latency_cycles);
}

}  // namespace spikechip::testing
