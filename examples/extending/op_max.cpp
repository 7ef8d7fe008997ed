// A layer op on the chip: Max, the element-wise maximum of membrane tensors (as Add is their
// sum). Its whole chip side is a task function and its row of the per-op table; wired in by one
// row in kRules of arch/chip_ops.cpp, at Op::Max's position in model::Op:
//   /* Max    */ {.membrane_tensor = true, .compute = max_compute},
#include <algorithm>

#include "arch/chip_ops.hpp"

namespace spikechip::arch::detail {

// The slot's task for a timestep: its slice of the output from the inputs' membrane tensors (the
// ops before it in the group's cluster have written them), and the node unit's cycles: one
// element-wise pass reading every input.
uint64_t max_compute(ChipEngine& E, GroupState& G, Slot& s, int, CoreModel& core, model::StepStats&) {
  const Node& n = E.g.nodes[size_t(s.node)];
  const model::Slice& sl = G.slice;
  const int64_t HW = int64_t(n.shape.h) * n.shape.w;
  int32_t* out = E.val[size_t(s.node)].data();
  for (int c = sl.c0; c < sl.c1; ++c)
    for (int y = sl.y0; y < sl.y1; ++y)
      for (int x = sl.x0; x < sl.x1; ++x) {
        const int64_t i = c * HW + int64_t(y) * n.shape.w + x;
        int32_t v = E.val[size_t(n.inputs[0])][size_t(i)];
        for (int k : n.inputs) v = std::max(v, E.val[size_t(k)][size_t(i)]);
        out[i] = v;
      }
  return core.elementwise_cost(sl.size(), int(n.inputs.size()), 1);
}

// The row: the output is a membrane tensor that the ops after it read; no weights, no packets
// (its inputs are computed on the same cores), so no setup, weight_bytes or arrive.
const OpRules kMaxRow{.membrane_tensor = true, .compute = max_compute};

}  // namespace spikechip::arch::detail
