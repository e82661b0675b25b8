// Formal harness of imsdev_fifo (rtl/common/imsdev_fifo.sv): the FIFO against a reference queue.
//
// Inputs are free (the solver drives them): in_valid/in_data may be anything in any cycle, including
// while the FIFO is full, and out_ready may be anything. The only assumption is a reset in the first
// cycle (BMC base case); rst may also rise again at any later cycle.
//
// Properties (all `a_*`), what a FIFO promises to a credit-style producer and a valid/ready consumer:
//   a_count_bound     count never exceeds DEPTH
//   a_count_exact     count equals pushes minus pops since reset (the reference queue's length)
//   a_ready_iff_room  in_ready exactly when count < DEPTH: never refuses with room (the credit users rely on
//                     it), never accepts when full (no overflow)
//   a_valid_iff_data  out_valid exactly when count > 0 (no underflow, no lost entry)
//   a_order           out_data is the oldest entry not yet popped (data out in order, unmodified)
//   a_reset           in the cycle after reset: count 0, out_valid 0
//   a_hold            valid/ready rule on the output: out_valid && !out_ready -> next cycle out_valid with
//                     the same out_data
// Helper invariants (`h_*`, needed by k-induction; internal state against the reference queue).
`default_nettype none

module fifo_props #(
    parameter int WIDTH = 8,
    parameter int DEPTH = 4,
    parameter bit REG_OUT = 1'b0,    // the FIFO's registered head (same promises)
    parameter bit REG_READY = 1'b0   // the FIFO's registered full flag (same promises)
) (
    input wire logic             clk,
    input wire logic             rst,
    input wire logic             in_valid,
    input wire logic [WIDTH-1:0] in_data,
    input wire logic             out_ready
);
    localparam int AW = (DEPTH > 1) ? $clog2(DEPTH) : 1;
    localparam int CW = $clog2(DEPTH + 1);

    logic             in_ready, out_valid;
    logic [WIDTH-1:0] out_data;
    logic [CW-1:0]    count;

    imsdev_fifo #(.WIDTH(WIDTH), .DEPTH(DEPTH), .REG_OUT(REG_OUT), .REG_READY(REG_READY)) dut (
        .clk, .rst, .in_valid, .in_ready, .in_data, .out_valid, .out_ready, .out_data, .count
    );

    // ------------------------------------------------------------ environment
    logic past_valid;
    initial past_valid = 1'b0;
    always_ff @(posedge clk) past_valid <= 1'b1;
    always @(posedge clk) if (!past_valid) assume (rst);

    // ------------------------------------------------------------ reference queue: q[0] is the oldest entry
    wire push = in_valid && in_ready;
    wire pop  = out_valid && out_ready;

    logic [WIDTH-1:0] q [DEPTH];
    logic [CW-1:0]    q_len;

    always_ff @(posedge clk) begin
        if (rst) begin
            q_len <= '0;
        end else begin
            for (int i = 0; i < DEPTH; i++) begin
                if (pop) q[i] <= (i + 1 < DEPTH) ? q[(i + 1) % DEPTH] : q[i];
            end
            if (push) q[32'(q_len) - (pop ? 1 : 0)] <= in_data;
            q_len <= CW'(32'(q_len) + (push ? 1 : 0) - (pop ? 1 : 0));
        end
    end

    // ------------------------------------------------------------ properties
    always @(posedge clk) begin
        if (past_valid && !rst) begin
            a_count_bound:    assert (32'(count) <= DEPTH);
            a_count_exact:    assert (count == q_len);
            a_ready_iff_room: assert (in_ready == (32'(count) < DEPTH));
            a_valid_iff_data: assert (out_valid == (count != '0));
            if (out_valid) a_order: assert (out_data == q[0]);
        end
        if (past_valid && $past(rst) && !rst) begin
            a_reset: assert (count == '0 && !out_valid);
        end
        if (past_valid && !$past(rst) && !rst && $past(out_valid && !out_ready)) begin
            a_hold: assert (out_valid && out_data == $past(out_data));
        end
    end

    // ------------------------------------------------------------ helper invariants (internal state)
    always @(posedge clk) begin
        if (past_valid && !rst) begin
            h_len: assert (32'(q_len) <= DEPTH);
        end
    end
    for (genvar i = 0; i < DEPTH; i++) begin : g_h_mem
        always @(posedge clk) begin
            if (past_valid && !rst && i < 32'(q_len)) h_mem: assert (dut.mem[(32'(dut.rd_ptr_q) + i) % DEPTH] == q[i]);
        end
    end
endmodule

`default_nettype wire
