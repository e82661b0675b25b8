// Synchronous FIFO with registered count, used where a producer is allowed to run ahead of a consumer
// by a known number of entries (credit-style flow control reads `count`).
// REG_OUT = 1 (Fmax): out_valid and out_data come from flip-flops holding the head, loaded with what the
// storage read gives after each edge (the entry after a popped head, or the input when it lands at the
// head), instead of the pointer compare and the storage's read behind them. Same cycle-by-cycle behaviour.
// REG_READY = 1 (Fmax): in_ready comes from a flip-flop (not full) updated from push and pop, instead of the
// pointer subtract and compare, so a producer's valid no longer waits on the pointers. Same behaviour.
// Both default off: the MSI-X and IMS proofs take the FIFO as it is and have no invariant for the extra state.
`default_nettype none

module imsdev_fifo #(
    parameter int WIDTH = 32,
    parameter int DEPTH = 4,
    parameter bit REG_OUT = 1'b0,
    parameter bit REG_READY = 1'b0,
    localparam int AW   = (DEPTH > 1) ? $clog2(DEPTH) : 1,
    localparam int CW   = $clog2(DEPTH + 1)
) (
    input  wire logic             clk,
    input  wire logic             rst,

    input  wire logic             in_valid,
    output      logic             in_ready,
    input  wire logic [WIDTH-1:0] in_data,

    output      logic             out_valid,
    input  wire logic             out_ready,
    output      logic [WIDTH-1:0] out_data,

    output      logic [CW-1:0]    count
);
    initial begin
        if (DEPTH < 2 || (DEPTH & (DEPTH - 1)) != 0) $fatal(1, "imsdev_fifo: DEPTH (%0d) must be a power of two >= 2", DEPTH);
    end

    logic [WIDTH-1:0] mem [DEPTH];
    logic [AW:0] wr_ptr_q, rd_ptr_q;

    wire push = in_valid && in_ready;
    wire pop  = out_valid && out_ready;

    assign count     = CW'(wr_ptr_q - rd_ptr_q);
    if (REG_READY) begin : g_reg_ready
        // full after this edge: a push without a pop fills the last entry; a pop without a push frees one
        logic full_q;
        always_ff @(posedge clk) begin
            if (rst)                full_q <= 1'b0;
            else if (push && !pop)  full_q <= count == CW'(DEPTH - 1);
            else if (pop && !push)  full_q <= 1'b0;
        end
        assign in_ready = !full_q;
    end else begin : g_comb_ready
        assign in_ready = count != CW'(DEPTH);
    end
    if (REG_OUT) begin : g_reg_out
        logic             head_valid_q;
        logic [WIDTH-1:0] head_q;
        wire  [AW-1:0]    rd_inc = rd_ptr_q[AW-1:0] + 1'b1;
        // the head after this edge: the entry after the popped one, or the input when it lands at the head
        // (an empty FIFO, or one entry being popped); else it stays. One storage read, at an address from
        // flip-flops, so pop only selects: reading the current head as well let Yosys merge the two reads
        // into one port behind an address mux on pop, which put the storage read after the consumer's ready.
        wire              lands = push && (pop ? count == CW'(1) : count == CW'(0));
        always_ff @(posedge clk) begin
            if (lands)    head_q <= in_data;
            else if (pop) head_q <= mem[rd_inc];
            head_valid_q <= !rst && (push || count > CW'(1) || (count == CW'(1) && !pop));
        end
        assign out_valid = head_valid_q;
        assign out_data  = head_q;
    end else begin : g_comb_out
        assign out_valid = wr_ptr_q != rd_ptr_q;
        assign out_data  = mem[rd_ptr_q[AW-1:0]];
    end

`ifndef SYNTHESIS
    // The registered variants against what the pointers say (the combinational forms): a flip-flop that
    // drifted from the storage is reported in the cycle it shows, not as a wrong entry far downstream.
    if (REG_OUT || REG_READY) begin : g_reg_check
        // Checks are armed by the first reset (before it the state is random power-up state: README, Build
        // configurations) and run from the second edge out of a reset on.
        logic reset_seen_q, checks_on_q;
        initial {reset_seen_q, checks_on_q} = 2'b00;
        always_ff @(posedge clk) begin
            if (rst) reset_seen_q <= 1'b1;
            checks_on_q <= reset_seen_q && !rst;
            if (checks_on_q && !rst) begin
                if (REG_OUT)
                    assert (out_valid == (wr_ptr_q != rd_ptr_q) && (!out_valid || out_data == mem[rd_ptr_q[AW-1:0]]))
                        else $error("imsdev_fifo: registered head differs from the storage's");
                if (REG_READY)
                    assert (in_ready == (count != CW'(DEPTH)))
                        else $error("imsdev_fifo: registered full flag differs from the pointers' (count %0d)", count);
            end
        end
    end
`endif

    always_ff @(posedge clk) begin
        if (push) mem[wr_ptr_q[AW-1:0]] <= in_data;
        if (rst) begin
            wr_ptr_q <= '0;
            rd_ptr_q <= '0;
        end else begin
            if (push) wr_ptr_q <= wr_ptr_q + 1'b1;
            if (pop)  rd_ptr_q <= rd_ptr_q + 1'b1;
        end
    end
endmodule

`default_nettype wire
