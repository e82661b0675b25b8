// Simple dual-port RAM: one write port with lane enables, one registered read port.
//
// Written in the shape FPGA and ASIC RAM inference recognises (one write process, one registered read,
// no reset on the array), so every table that scales with a parameter (MSI-X table, PBA, IMS, queues)
// lands in RAM rather than flip-flops. Read-during-write to the same address returns the OLD data;
// callers that need the new value forward it themselves.
`default_nettype none

module imsdev_ram_sdp #(
    parameter int WIDTH  = 128,
    parameter int DEPTH  = 64,
    parameter int LANE_W = 32,
    localparam int LANES = WIDTH / LANE_W,
    localparam int AW    = (DEPTH > 1) ? $clog2(DEPTH) : 1
) (
    input  wire logic             clk,

    input  wire logic [LANES-1:0] wr_en,
    input  wire logic [AW-1:0]    wr_addr,
    input  wire logic [WIDTH-1:0] wr_data,

    input  wire logic             rd_en,
    input  wire logic [AW-1:0]    rd_addr,
    output      logic [WIDTH-1:0] rd_data
);
    initial begin
        if (WIDTH % LANE_W != 0) $fatal(1, "imsdev_ram_sdp: WIDTH (%0d) must be a multiple of LANE_W (%0d)", WIDTH, LANE_W);
        if (DEPTH < 1) $fatal(1, "imsdev_ram_sdp: DEPTH must be at least 1");
    end

    logic [WIDTH-1:0] mem [DEPTH];

    always_ff @(posedge clk) begin
        for (int lane = 0; lane < LANES; lane++) begin
            if (wr_en[lane]) mem[wr_addr][lane*LANE_W +: LANE_W] <= wr_data[lane*LANE_W +: LANE_W];
        end
        if (rd_en) rd_data <= mem[rd_addr];
    end
endmodule

`default_nettype wire
