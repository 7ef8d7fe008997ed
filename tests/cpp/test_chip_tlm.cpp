// The chip module's host interface (sim/chip_tlm.hpp, docs/systemc.md "Host register map") driven
// by a test host in the SystemC kernel: ID, bad TIMESTEPS / FRAMES / START-while-busy set ERROR
// with their codes, unmapped and read-only addresses answer TLM errors, a run gives the latency,
// prediction and outputs of arch::Chip::run on the same input, and reset in the middle of a run
// aborts it, after which the same input runs again to the same result.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>

#include "arch/chip.hpp"
#include "chip_test_util.hpp"
#include "mapper/mapper.hpp"
#include "sim/chip_tlm.hpp"

namespace spikechip {
namespace {

using namespace sim::chip_regs;

struct TestHost : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<TestHost> socket{"socket"};
  sc_core::sc_out<bool> rst{"rst"};
  std::function<void(TestHost&)> body;
  SC_HAS_PROCESS(TestHost);
  explicit TestHost(sc_core::sc_module_name n) : sc_core::sc_module(n) { SC_THREAD(run); }
  void run() {
    rst.write(false);
    wait(1, sc_core::SC_NS);
    body(*this);
    sc_core::sc_stop();
  }
  tlm::tlm_response_status access(tlm::tlm_command cmd, uint64_t a, uint8_t* p, unsigned len) {
    tlm::tlm_generic_payload tr;
    tr.set_command(cmd), tr.set_address(a), tr.set_data_ptr(p), tr.set_data_length(len), tr.set_streaming_width(len);
    sc_core::sc_time d = sc_core::SC_ZERO_TIME;
    socket->b_transport(tr, d);
    wait(d);
    return tr.get_response_status();
  }
  uint64_t rd(uint64_t a, unsigned len = 4) {
    uint8_t b[8] = {};
    EXPECT_EQ(access(tlm::TLM_READ_COMMAND, a, b, len), tlm::TLM_OK_RESPONSE) << std::hex << a;
    uint64_t v = 0;
    for (unsigned i = 0; i < len; ++i) v |= uint64_t(b[i]) << (8 * i);
    return v;
  }
  tlm::tlm_response_status wr(uint64_t a, uint32_t v) {
    uint8_t b[4] = {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)};
    return access(tlm::TLM_WRITE_COMMAND, a, b, 4);
  }
  uint32_t wait_idle() {
    uint32_t s;
    while ((s = uint32_t(rd(kStatus))) & kBusy) wait(10, sc_core::SC_US);
    return s;
  }
};

TEST(ChipTlm, RegistersErrorsRunAndReset) {
  const model::Graph g = testing::small_meta_spikeformer(1);
  const arch::ChipConfig chip = testing::chip_preset("tiny");
  const mapper::Mapping m = mapper::map_model(g, chip, {});
  std::vector<uint8_t> img = testing::random_image(g.input().shape, 5);
  arch::Chip ref(g, chip, m);
  const arch::ChipRunResult want = ref.run(model::InputView{img.data(), 1, g.input().shape}, 1);

  sc_core::sc_clock clk("clk", sc_core::sc_time(1e12 / chip.clock_hz, sc_core::SC_PS));
  sc_core::sc_signal<bool> rst("rst");
  sim::ChipTlm dut("chip", g, chip, m, 0, 4);
  TestHost host("host");
  dut.clk(clk), dut.rst(rst), host.rst(rst);
  host.socket.bind(dut.host);
  bool finished = false;
  host.body = [&](TestHost& h) {
    EXPECT_EQ(h.rd(kId), kIdValue);
    EXPECT_EQ(h.rd(kVersion), kVersionValue);
    EXPECT_EQ(h.rd(kFrameBytes), uint64_t(g.input().shape.size()));
    EXPECT_EQ(h.rd(kNumOutputs), 10u);
    EXPECT_EQ(h.rd(kInputCapacity), 4 * uint64_t(g.input().shape.size()));
    EXPECT_EQ(h.rd(kTimesteps), 1u);
    EXPECT_EQ(int32_t(h.rd(kPrediction)), -1);
    uint8_t b[8] = {};
    EXPECT_EQ(h.access(tlm::TLM_READ_COMMAND, 0x500, b, 4), tlm::TLM_ADDRESS_ERROR_RESPONSE);
    EXPECT_EQ(h.wr(kLatency, 1), tlm::TLM_COMMAND_ERROR_RESPONSE);
    EXPECT_EQ(h.access(tlm::TLM_WRITE_COMMAND, kOutput, b, 8), tlm::TLM_COMMAND_ERROR_RESPONSE);
    // Bad settings: ERROR with its code, nothing runs.
    h.wr(kFrames, 3);
    EXPECT_EQ(h.wr(kCtrl, kStart), tlm::TLM_OK_RESPONSE);
    EXPECT_EQ(h.rd(kStatus), kErr);
    EXPECT_EQ(h.rd(kError), uint64_t(kBadFrames));
    h.wr(kFrames, 1), h.wr(kTimesteps, 0), h.wr(kCtrl, kStart);
    EXPECT_EQ(h.rd(kError), uint64_t(kBadTimesteps));
    h.wr(kTimesteps, 1);
    // The input over a write transaction, a run, and START while it is busy.
    EXPECT_EQ(h.access(tlm::TLM_WRITE_COMMAND, kInput, img.data(), unsigned(img.size())), tlm::TLM_OK_RESPONSE);
    h.wr(kCtrl, kStart);
    EXPECT_EQ(h.rd(kStatus), kBusy);
    h.wr(kCtrl, kStart);  // refused: ERROR, the run goes on
    EXPECT_EQ(h.rd(kStatus), kBusy | kErr);
    EXPECT_EQ(h.rd(kError), uint64_t(kStartWhileBusy));
    EXPECT_EQ(h.wait_idle(), kDone | kErr);  // ERROR is sticky until the next accepted START
    EXPECT_EQ(h.rd(kLatency, 8), want.latency_cycles);
    EXPECT_EQ(h.rd(kCycle, 8), want.latency_cycles);
    EXPECT_EQ(int(int32_t(h.rd(kPrediction))), want.prediction);
    EXPECT_EQ(h.rd(kRuns), 1u);
    EXPECT_EQ(h.rd(kTimestep), 1u);
    for (size_t i = 0; i < want.output_acc.size(); ++i) EXPECT_EQ(int64_t(h.rd(kOutput + 8 * i, 8)), want.output_acc[i]);
    EXPECT_EQ(h.rd(kTimestepEnd, 8), want.timestep_end_cycles[0]);
    // Reset in the middle of a run aborts it and clears the registers.
    h.wr(kCtrl, kStart);
    EXPECT_EQ(h.rd(kError), 0u);
    sc_core::wait(sc_core::sc_time(1e12 / chip.clock_hz, sc_core::SC_PS) * double(want.latency_cycles / 2));
    EXPECT_EQ(h.rd(kStatus), kBusy);
    const uint64_t mid = h.rd(kCycle, 8);
    EXPECT_GT(mid, 0u);
    EXPECT_LT(mid, want.latency_cycles);
    h.rst.write(true);
    sc_core::wait(10, sc_core::SC_NS);
    EXPECT_EQ(h.wr(kCtrl, kStart), tlm::TLM_GENERIC_ERROR_RESPONSE);  // no START in reset
    h.rst.write(false);
    sc_core::wait(10, sc_core::SC_NS);
    EXPECT_EQ(h.rd(kStatus), 0u);
    EXPECT_EQ(h.rd(kRuns), 0u);
    EXPECT_EQ(h.rd(kLatency, 8), 0u);
    sc_core::wait(sc_core::sc_time(1e12 / chip.clock_hz, sc_core::SC_PS) * double(want.latency_cycles));
    EXPECT_EQ(h.rd(kStatus), 0u);  // the aborted run does not come back
    h.wr(kCtrl, kStart);
    EXPECT_EQ(h.wait_idle() & (kDone | kErr), kDone);
    EXPECT_EQ(h.rd(kLatency, 8), want.latency_cycles);
    finished = true;
  };
  sc_core::sc_start();
  EXPECT_TRUE(finished);
}

}  // namespace
}  // namespace spikechip
