// The bench-speed ceiling (`make bench`): the same Verilated RTL as the cocotb bench, clocked by a bare C++
// loop with no Python, no VPI and no public signals. The link is idle (no request or completion arrives) and
// always ready, with bus mastering and MSI-X enabled, so the number is what Verilator alone costs per cycle:
// the most any bench built on this model could reach. Prints one JSON line.
//
// usage: ceiling <cycles>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "Vimsdev_top.h"
#include "verilated.h"

int main(int argc, char** argv) {
    const long cycles = argc > 1 ? std::atol(argv[1]) : 2000000;
    if (cycles <= 0) {
        std::fprintf(stderr, "ceiling: cycles must be a positive number, got '%s'\n", argv[1]);
        return 2;
    }
    VerilatedContext ctx;
    ctx.commandArgs(argc, argv);
    Vimsdev_top top{&ctx};

    top.cfg_bdf = 0x0100;
    top.cfg_bus_master_en = 1;
    top.cfg_msix_en = 1;
    top.tx_cpl_ready = 1;
    top.tx_req_ready = 1;
    top.rst = 1;
    auto tick = [&top]() {
        top.clk = 0;
        top.eval();
        top.clk = 1;
        top.eval();
    };
    for (int i = 0; i < 16; i++) tick();
    top.rst = 0;

    const std::clock_t c0 = std::clock();
    const auto w0 = std::chrono::steady_clock::now();
    for (long i = 0; i < cycles; i++) tick();
    const double cpu_s = double(std::clock() - c0) / CLOCKS_PER_SEC;
    const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
    top.final();
    std::printf("{\"cycles\": %ld, \"cpu_s\": %.3f, \"wall_s\": %.3f, \"cycles_per_cpu_s\": %.0f}\n", cycles, cpu_s,
                wall_s, cpu_s > 0 ? cycles / cpu_s : 0.0);
    return 0;
}
