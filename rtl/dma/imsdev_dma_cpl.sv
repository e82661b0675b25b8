// Completion receiver of the DMA engine: checks every completion on rx_cpl against its tag, writes CplD
// payload into the read buffer and reports progress, errors and unexpected completions.
//
// Pipeline (one beat per cycle, rx_cpl is always ready):
//   I  input register
//   A  at the first beat (sop): tag lookup and checks (the tag table is read by the tag of the header being
//      registered in I and gives its entry registered, as of stage A: imsdev_dma_tags); the position of the payload's first byte is
//      tag position + bytes already received - (lower address & 3), and the valid payload bytes are
//      [lower address & 3, that + bytes in this completion). Every beat: buffer position and byte mask.
//   B  buffer write; at the last beat (eop) the tag update (bytes received, final, error).
// A completion is *expected* when its tag is live, the requester ID is ours, and for SC: it is a CplD whose
// Byte Count equals the bytes still outstanding (address order), whose Lower Address matches, and whose
// length ends in the DW holding the last requested byte when it claims to be the last one. Anything else
// (unknown or finished tag, Cpl without data for SC, mismatching fields, not a completion at all) is
// dropped whole and flagged with one err_unexpected_cpl pulse.
// Errors: status UR -> DMA_READ_UR, any other non-SC status -> DMA_READ_CA; both end the request.
// A poisoned CplD -> DMA_READ_POISONED; its data is not written, and the request's remaining completions are
// still absorbed. The update of stage B is forwarded to stage A for back-to-back completions of a tag.
`default_nettype none

module imsdev_dma_cpl #(
    parameter int DATA_W = 256,
    parameter int TAGS   = 16,
    parameter int PW     = 13,
    localparam int NB    = DATA_W / 8,
    localparam int TW    = (TAGS > 1) ? $clog2(TAGS) : 1
) (
    input  wire logic              clk,
    input  wire logic              rst,
    input  wire logic [15:0]       cfg_bdf,

    input  wire logic              rx_cpl_valid,
    output      logic              rx_cpl_ready,
    input  wire logic              rx_cpl_sop,
    input  wire logic              rx_cpl_eop,
    input  wire logic [127:0]      rx_cpl_hdr,
    input  wire logic [DATA_W-1:0] rx_cpl_data,

    output      logic [TW-1:0]     lk_tag,
    input  wire logic              lk_live,
    input  wire logic [PW-1:0]     lk_pos,
    input  wire logic [12:0]       lk_rem,         // bytes still expected
    input  wire logic [12:0]       lk_rcvd,
    input  wire logic [6:0]        lk_la7,         // address [6:0] of the next expected byte

    output      logic              upd_valid,
    output      logic [TW-1:0]     upd_tag,
    output      logic [12:0]       upd_bytes,
    output      logic              upd_final,
    output      logic              upd_err,
    output      logic [3:0]        upd_err_code,

    output      logic              buf_wr_valid,
    output      logic [PW-2:0]     buf_wr_pos,     // buffer index (position mod BUF_BYTES)
    output      logic [DATA_W-1:0] buf_wr_data,
    output      logic [NB-1:0]     buf_wr_mask,

    output      logic              err_unexpected_cpl
);
    import imsdev_tlp_pkg::*;
    import imsdev_dma_pkg::*;

    assign rx_cpl_ready = 1'b1;

    // ---------------------------------------------------------------- I: input register
    logic              i_valid_q, i_sop_q, i_eop_q;
    logic [127:0]      i_hdr_q;
    logic [DATA_W-1:0] i_data_q;

    always_ff @(posedge clk) begin
        i_hdr_q  <= rx_cpl_hdr;
        i_data_q <= rx_cpl_data;
        i_sop_q  <= rx_cpl_sop;
        i_eop_q  <= rx_cpl_eop;
        if (rst) i_valid_q <= 1'b0;
        else     i_valid_q <= rx_cpl_valid;
    end

    // ---------------------------------------------------------------- A: checks (sop) and beat placement
    // Per-TLP context kept for the beats after the first.
    logic          c_drop_q, c_write_q, c_final_q, c_err_q;
    logic [3:0]    c_code_q;
    logic [TW-1:0] c_tag_q;
    logic [PW-1:0] c_p0_q;
    logic [1:0]    c_lo_q;
    logic [13:0]   c_hi_q;
    logic [12:0]   c_bytes_q;
    logic [12:0]   c_beat_q;        // payload index of the current beat's byte 0

    // Stage B registers (declared here for forwarding)
    logic          b_upd_valid_q, b_upd_final_q;
    logic [TW-1:0] b_upd_tag_q;
    logic [12:0]   b_upd_bytes_q;

    wire [7:0]  tag8   = cpl_tag(i_hdr_q);
    wire [7:0]  ft     = hdr_fmt_type(i_hdr_q);
    wire [2:0]  status = cpl_status(i_hdr_q);
    wire [12:0] bc     = (cpl_byte_count(i_hdr_q) == 12'd0) ? 13'd4096 : 13'(cpl_byte_count(i_hdr_q));
    wire [6:0]  la     = cpl_lower_addr(i_hdr_q);
    wire [10:0] len_dw = (hdr_length(i_hdr_q) == 10'd0) ? 11'd1024 : 11'(hdr_length(i_hdr_q));
    wire [12:0] room   = {len_dw, 2'b00} - 13'(la[1:0]);   // payload bytes from the first valid one

    assign lk_tag = TW'(cpl_tag(rx_cpl_hdr));       // the table gives this tag's entry in the next cycle
    wire [TW-1:0] a_lk_tag = tag8[TW-1:0];          // (the same tag, now in stage A)
    wire        fwd    = b_upd_valid_q && b_upd_tag_q == a_lk_tag;
    wire        live   = (32'(tag8) < TAGS) && lk_live && !(fwd && b_upd_final_q);
    wire [12:0] fwd_bytes = fwd ? b_upd_bytes_q : 13'd0;
    wire [12:0] rcvd   = lk_rcvd + fwd_bytes;
    wire        last   = bc <= room;                 // this completion carries the request's last byte
    wire [12:0] nbytes = last ? bc : room;

    // Byte Count == the bytes still outstanding (lk_rem - fwd_bytes) and Lower Address == the next expected
    // byte's (lk_la7 + fwd_bytes), both with the forwarded bytes moved to the completion's side: the sums come
    // from the header and stage B, and only an equality compare follows the table read (Fmax). Both cases
    // (forwarded or not) are compared side by side and fwd (the tag compare with stage B) only picks one, so
    // the tag compare is not in front of the adders (Fmax: this was the receiver's drop decision's head).
    wire [12:0] bc_fwd = bc + b_upd_bytes_q;
    wire [6:0]  la_fwd = la - b_upd_bytes_q[6:0];
    wire is_cpl  = ft == FT_CPL || ft == FT_CPLD;
    wire is_sc   = status == CPL_SC;
    wire pos_ok0 = bc == lk_rem && la == lk_la7;
    wire pos_ok1 = bc_fwd == lk_rem && la_fwd == lk_la7;
    wire sc_ok   = ft == FT_CPLD && (fwd ? pos_ok1 : pos_ok0) && (!last || (room - bc) < 13'd4);
    wire expected = is_cpl && cpl_req_id(i_hdr_q) == cfg_bdf && live && (!is_sc || sc_ok);
    wire poison  = is_sc && hdr_poisoned(i_hdr_q);

    // Values for this beat: from the header at sop, from the context afterwards.
    logic          a_drop, a_write, a_final, a_err;
    logic [3:0]    a_code;
    logic [TW-1:0] a_tag;
    logic [PW-1:0] a_p0;
    logic [1:0]    a_lo;
    logic [13:0]   a_hi;
    logic [12:0]   a_bytes;
    logic [12:0]   a_beat;

    always_comb begin
        if (i_sop_q) begin
            a_drop  = !expected;
            a_write = is_sc && !poison;
            a_final = !is_sc || last;
            a_err   = !is_sc || poison;
            a_code  = !is_sc ? ((status == CPL_UR) ? DMA_READ_UR : DMA_READ_CA) : DMA_READ_POISONED;
            a_tag   = a_lk_tag;
            a_p0    = lk_pos + PW'(rcvd) - PW'(la[1:0]);
            a_lo    = la[1:0];
            a_hi    = 14'(la[1:0]) + 14'(nbytes);
            a_bytes = is_sc ? nbytes : 13'd0;
            a_beat  = '0;
        end else begin
            a_drop  = c_drop_q;
            a_write = c_write_q;
            a_final = c_final_q;
            a_err   = c_err_q;
            a_code  = c_code_q;
            a_tag   = c_tag_q;
            a_p0    = c_p0_q;
            a_lo    = c_lo_q;
            a_hi    = c_hi_q;
            a_bytes = c_bytes_q;
            a_beat  = c_beat_q;
        end
    end

    logic [NB-1:0] a_mask;
    always_comb begin
        for (int j = 0; j < NB; j++) begin
            a_mask[j] = (14'(a_beat) + 14'(j) >= 14'(a_lo)) && (14'(a_beat) + 14'(j) < a_hi);
        end
    end

    // After a reset (FLR) the link still delivers the rest of a completion whose first beat came before
    // it: c_drop_q starts at 1 so those beats are dropped until the next sop.
    always_ff @(posedge clk) begin
        if (rst) begin
            c_drop_q  <= 1'b1;
        end else if (i_valid_q) begin
            c_drop_q  <= a_drop;
        end
        if (i_valid_q) begin
            c_write_q <= a_write;
            c_final_q <= a_final;
            c_err_q   <= a_err;
            c_code_q  <= a_code;
            c_tag_q   <= a_tag;
            c_p0_q    <= a_p0;
            c_lo_q    <= a_lo;
            c_hi_q    <= a_hi;
            c_bytes_q <= a_bytes;
            c_beat_q  <= a_beat + 13'(NB);
        end
    end

    // ---------------------------------------------------------------- B: buffer write, tag update
    logic b_unexp_q;

    always_ff @(posedge clk) begin
        buf_wr_pos    <= (PW-1)'(a_p0 + PW'(a_beat));
        buf_wr_data   <= i_data_q;
        buf_wr_mask   <= a_mask;
        b_upd_tag_q   <= a_tag;
        b_upd_bytes_q <= a_bytes;
        b_upd_final_q <= a_final;
        upd_err       <= a_err;
        upd_err_code  <= a_code;
        if (rst) begin
            buf_wr_valid  <= 1'b0;
            b_upd_valid_q <= 1'b0;
            b_unexp_q     <= 1'b0;
        end else begin
            buf_wr_valid  <= i_valid_q && !a_drop && a_write;
            b_upd_valid_q <= i_valid_q && !a_drop && i_eop_q;
            b_unexp_q     <= i_valid_q && i_sop_q && a_drop;
        end
    end

    assign upd_valid          = b_upd_valid_q;
    assign upd_tag            = b_upd_tag_q;
    assign upd_bytes          = b_upd_bytes_q;
    assign upd_final          = b_upd_final_q;
    assign err_unexpected_cpl = b_unexp_q;

`ifndef SYNTHESIS
    // Nothing from a completion whose first beat came before a reset reaches the read buffer or the tag
    // table: after a reset, no buffer write and no tag update until a first beat (sop) has been taken.
    // Checks are armed by the first reset; before it the state is random power-up state (README, Build configurations).
    logic checks_on_q, sop_seen_q;
    initial checks_on_q = 1'b0;
    always_ff @(posedge clk) if (rst) checks_on_q <= 1'b1;
    always_ff @(posedge clk) begin
        if (rst)                         sop_seen_q <= 1'b0;
        else if (i_valid_q && i_sop_q)   sop_seen_q <= 1'b1;
    end
    // sc_ok's side-by-side form against the direct one (the forwarded bytes added before the compare)
    wire sc_ok_direct = ft == FT_CPLD && bc + fwd_bytes == lk_rem && la - fwd_bytes[6:0] == lk_la7
                        && (!last || (room - bc) < 13'd4);
    always_ff @(posedge clk) begin
        if (checks_on_q && !rst && i_valid_q && i_sop_q)
            assert (sc_ok == sc_ok_direct) else $error("imsdev_dma_cpl: side-by-side completion check differs");
    end
    always_ff @(posedge clk) begin
        if (checks_on_q && !rst)
            assert (sop_seen_q || !(buf_wr_valid || b_upd_valid_q))
                else $error("imsdev_dma_cpl: a completion beat from before the reset was used");
    end
`endif
endmodule

`default_nettype wire
