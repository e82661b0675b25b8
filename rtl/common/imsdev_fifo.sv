// Synchronous FIFO with registered count, used where a producer is allowed to run ahead of a consumer
// by a known number of entries (credit-style flow control reads `count`).
`default_nettype none

module imsdev_fifo #(
    parameter int WIDTH = 32,
    parameter int DEPTH = 4,
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
    assign in_ready  = count != CW'(DEPTH);
    assign out_valid = wr_ptr_q != rd_ptr_q;
    assign out_data  = mem[rd_ptr_q[AW-1:0]];

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
