// Read buffer of the DMA engine: BUF_BYTES bytes addressed by "position" (a byte index that wraps), stored
// in NB = DATA_W/8 byte-wide RAM banks, bank = position mod NB, row = position / NB.
//
// Any NB consecutive positions are one byte of every bank (at two adjacent rows at most), so both ports
// move a whole beat of arbitrary byte alignment per cycle: the write port rotates a beat into the banks,
// the read port reads every bank and rotates the result back. This is what lets completion data (which
// starts at any DW of the source) and write payload (which starts at any DW of the destination) meet
// with no alignment restrictions on source, destination or length.
//
//   write: data byte j (j < NB) with wr_mask[j] set is stored at position wr_pos + j.
//   read:  rd_data, valid the cycle after rd_en, holds in byte j the byte at position rd_pos + j.
// A read of a position written in the same cycle returns the old byte (imsdev_ram_sdp); the engine only
// reads positions whose data was written in an earlier cycle.
`default_nettype none

module imsdev_dma_rdbuf #(
    parameter int DATA_W    = 256,
    parameter int BUF_BYTES = 4096,
    localparam int NB       = DATA_W / 8,
    localparam int LNB      = $clog2(NB),
    localparam int AW       = $clog2(BUF_BYTES),
    localparam int ROWS     = BUF_BYTES / NB,
    localparam int RW       = $clog2(ROWS)
) (
    input  wire logic              clk,

    input  wire logic              wr_valid,
    input  wire logic [AW-1:0]     wr_pos,
    input  wire logic [DATA_W-1:0] wr_data,
    input  wire logic [NB-1:0]     wr_mask,

    input  wire logic              rd_en,
    input  wire logic [AW-1:0]     rd_pos,
    output      logic [DATA_W-1:0] rd_data
);
    initial begin
        if (ROWS < 2 || (BUF_BYTES & (BUF_BYTES - 1)) != 0)
            $fatal(1, "imsdev_dma_rdbuf: BUF_BYTES (%0d) must be a power of two of at least two beats", BUF_BYTES);
    end

    // Byte rotation towards lower indices: result byte j = d byte (j + s) mod NB.
    function automatic logic [DATA_W-1:0] rot_bytes(input logic [DATA_W-1:0] d, input logic [LNB-1:0] s);
        return DATA_W'({d, d} >> {s, 3'b000});
    endfunction
    function automatic logic [NB-1:0] rot_bits(input logic [NB-1:0] m, input logic [LNB-1:0] s);
        return NB'({m, m} >> s);
    endfunction

    // ---------------------------------------------------------------- write port
    // Bank i takes data byte (i - s) mod NB, whose position lies in row wr_row, or in the next row when i < s.
    wire [LNB-1:0]    wr_s   = wr_pos[LNB-1:0];
    wire [RW-1:0]     wr_row = wr_pos[AW-1:LNB];
    wire [DATA_W-1:0] wr_bank_data = rot_bytes(wr_data, LNB'(-wr_s));
    wire [NB-1:0]     wr_bank_en   = rot_bits(wr_mask, LNB'(-wr_s)) & {NB{wr_valid}};

    // ---------------------------------------------------------------- read port
    wire [LNB-1:0]    rd_s   = rd_pos[LNB-1:0];
    wire [RW-1:0]     rd_row = rd_pos[AW-1:LNB];
    logic [LNB-1:0]   rd_s_q;
    logic [DATA_W-1:0] bank_q;

    always_ff @(posedge clk) begin
        if (rd_en) rd_s_q <= rd_s;
    end

    // Banks below the start bank hold the later bytes of the window, one row further on.
    wire [NB-1:0] wr_next_row = ~({NB{1'b1}} << wr_s);
    wire [NB-1:0] rd_next_row = ~({NB{1'b1}} << rd_s);

    for (genvar i = 0; i < NB; i++) begin : g_bank
        wire [RW-1:0] wa = wr_row + RW'(wr_next_row[i]);
        wire [RW-1:0] ra = rd_row + RW'(rd_next_row[i]);
        imsdev_ram_sdp #(.WIDTH(8), .DEPTH(ROWS), .LANE_W(8)) u_ram (
            .clk,
            .wr_en(wr_bank_en[i]), .wr_addr(wa), .wr_data(wr_bank_data[8*i +: 8]),
            .rd_en(rd_en), .rd_addr(ra), .rd_data(bank_q[8*i +: 8])
        );
    end

    assign rd_data = rot_bytes(bank_q, rd_s_q);
endmodule

`default_nettype wire
