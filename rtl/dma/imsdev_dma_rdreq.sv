// Read request generator of the DMA engine: turns each COPY command into MRd TLPs.
//
// Requests are cut at multiples of RD_SIZE = min(Max_Read_Request_Size, RD_CAP) of the source address, so
// none exceeds MRRS or crosses a 4 KiB boundary (RD_SIZE divides 4096). RD_CAP (a quarter of the read
// buffer, at most 4 KiB) keeps several requests in flight even when MRRS is large.
// A request is issued (tag and buffer space allocated, MRd registered for tx_req) when a tag is free,
// the buffer has room for its bytes, and the command has not failed. Once a command has failed the
// generator stops issuing for it. Either way, when it is done with a command it pushes the command's end
// position (the next free buffer position) to the write engine, which uses it to skip what a failed
// command left in the buffer.
`default_nettype none

module imsdev_dma_rdreq #(
    parameter int BUF_BYTES = 4096,
    parameter int TAGS      = 16,
    parameter int SEQ_W     = 4,
    localparam int PW       = $clog2(BUF_BYTES) + 1,   // buffer positions (one more bit than an index)
    localparam int TW       = (TAGS > 1) ? $clog2(TAGS) : 1,
    localparam int RD_CAP   = (BUF_BYTES / 4 < 4096) ? BUF_BYTES / 4 : 4096,
    localparam int RD_CAP_LG = $clog2(RD_CAP)
) (
    input  wire logic              clk,
    input  wire logic              rst,
    input  wire logic [15:0]       cfg_bdf,
    input  wire logic [2:0]        cfg_max_read_req,

    // COPY commands (length > 0), in command order
    input  wire logic              cmd_valid,
    output      logic              cmd_ready,
    input  wire logic [63:0]       cmd_src,
    input  wire logic [31:0]       cmd_len,
    input  wire logic              cmd_pasid_valid,
    input  wire logic [19:0]       cmd_pasid,
    input  wire logic              cmd_priv,
    input  wire logic [SEQ_W-1:0]  cmd_seq,

    // tags and failure table
    input  wire logic              tags_full,
    input  wire logic [TW-1:0]     tags_alloc_tag,
    output      logic              tags_alloc_valid,
    output      logic [PW-1:0]     tags_alloc_pos,
    output      logic [12:0]       tags_alloc_len,
    output      logic [6:0]        tags_alloc_addr7,
    output      logic [PW-1:0]     alloc_end_pos,
    output      logic [SEQ_W-1:0]  fail_q_seq,
    input  wire logic              fail_q_failed,

    // buffer space: the write engine's next position to consume; positions below free_pos + BUF_BYTES
    // may be allocated.
    input  wire logic [PW-1:0]     free_pos,

    // end positions for the write engine, one per COPY command
    output      logic              end_valid,
    input  wire logic              end_ready,
    output      logic [PW-1:0]     end_pos,

    // MRd to send (one beat)
    output      logic              mrd_valid,
    input  wire logic              mrd_ready,
    output      logic [127:0]      mrd_hdr_o,
    output      logic              mrd_prfx_valid,
    output      logic [31:0]       mrd_prfx,
    output      logic [TW-1:0]     mrd_tag
);
    import imsdev_tlp_pkg::*;

    initial begin
        if (RD_CAP < 128) $fatal(1, "imsdev_dma_rdreq: BUF_BYTES (%0d) must be at least 512", BUF_BYTES);
    end

    logic [31:0] off_q;          // bytes of the current command already requested
    logic [PW-1:0] alloc_q;      // next buffer position to allocate

    // Request size: up to the next multiple of RD_SIZE of the address, and at most what is left.
    logic [2:0]  mrrs_lg;        // log2(RD_SIZE) - 7
    always_comb begin
        mrrs_lg = (cfg_max_read_req > 3'd5) ? 3'd5 : cfg_max_read_req;
        if (32'(mrrs_lg) + 7 > RD_CAP_LG) mrrs_lg = 3'(RD_CAP_LG - 7);
    end

    wire [63:0] addr     = cmd_src + 64'(off_q);
    wire [31:0] rem      = cmd_len - off_q;
    wire [12:0] rd_size  = 13'd128 << mrrs_lg;
    wire [12:0] to_bound = rd_size - (addr[12:0] & (rd_size - 13'd1));
    wire [12:0] n        = (rem < 32'(to_bound)) ? rem[12:0] : to_bound;
    wire        last     = rem == 32'(n);

    wire [PW-1:0] used   = alloc_q - free_pos;
    wire        room     = 32'(used) + 32'(n) <= BUF_BYTES;
    wire        out_free = !mrd_valid || mrd_ready;

    wire abort = cmd_valid && fail_q_failed;
    wire issue = cmd_valid && !fail_q_failed && !tags_full && room && out_free && (!last || end_ready);
    wire done  = (issue && last) || (abort && end_ready);

    assign fail_q_seq = cmd_seq;
    assign cmd_ready  = done;

    assign tags_alloc_valid = issue;
    assign tags_alloc_pos   = alloc_q;
    assign tags_alloc_len   = n;
    assign tags_alloc_addr7 = addr[6:0];
    assign alloc_end_pos    = alloc_q;

    assign end_valid = (issue && last) || abort;
    assign end_pos   = abort ? alloc_q : alloc_q + PW'(n);

    always_ff @(posedge clk) begin
        if (issue) begin
            mrd_hdr_o      <= mrd_hdr(addr, req_dw_count(addr[1:0], n)[9:0], cfg_bdf,
                                      8'(tags_alloc_tag), req_first_be(addr[1:0], n), req_last_be(addr[1:0], n));
            mrd_prfx_valid <= cmd_pasid_valid;
            mrd_prfx       <= cmd_pasid_valid ? pasid_prfx(cmd_priv, 1'b0, cmd_pasid) : 32'd0;
            mrd_tag        <= tags_alloc_tag;
        end
        if (rst) begin
            off_q     <= '0;
            alloc_q   <= '0;
            mrd_valid <= 1'b0;
        end else begin
            if (mrd_ready) mrd_valid <= 1'b0;
            if (issue) begin
                mrd_valid <= 1'b1;
                alloc_q   <= alloc_q + PW'(n);
                off_q     <= last ? 32'd0 : off_q + 32'(n);
            end
            if (abort && end_ready) off_q <= '0;
        end
    end
endmodule

`default_nettype wire
